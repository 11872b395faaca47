"""Loggers: callbacks that send a run's statistics to a tool people already watch training in.

``metrics.jsonl`` (``ganzoo.training.outputs.MetricsLogWriter``) is always written; a logger here
joins it when a run names it in ``run.callbacks`` (``ganzoo train --logger NAME``). Each one is
registered by ``ganzoo.builtin`` exactly as a plugin's callback would be.
"""

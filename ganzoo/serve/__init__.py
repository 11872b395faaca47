"""``ganzoo serve``: a local web page to look at trained generators.

The modules, each importing only those before it: ``runinfo`` (what a run's files say),
``catalogue`` (the generators under the given paths, loaded once, each with an opaque id),
``requests`` (every query parameter validated), ``rendering`` (latents to PNG bytes),
``worker`` (a bounded pool and the rate limit), ``app`` (the Starlette app and its page) and
``server`` (a socket and uvicorn). Only ``app`` and ``server`` need the ``serve`` extra, so
importing this package costs nothing.
"""

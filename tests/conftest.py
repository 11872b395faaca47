"""Test-suite settings. The shared fixtures (``tiny_config``, ``run_cli``, ``registry``) come from
``ganzoo.testing``, installed as a pytest plugin so plugin distributions can use them too."""

from __future__ import annotations

import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

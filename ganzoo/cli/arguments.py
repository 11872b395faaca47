"""Argument types shared by the subcommands: a bad value is argparse's one usage error, before
any work starts."""

from __future__ import annotations

import argparse

from ganzoo.core.sampling import SEED_LIMIT


def seed(text: str) -> int:
    """A latent or run seed: a whole number from 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 0 to {SEED_LIMIT - 1}")
    return value

"""The one base of every options model, and the settings handed to a dataset plugin.

``Options`` (``StrictModel``) is what a plugin's ``config_model`` derives from: unknown keys, NaN
and infinities are refused and assignments are validated, so a misspelt option is an error
rather than silently ignored. ``NoOptions`` is the same model with no fields, for a component
that takes none. ``DataConfig`` lives here because a dataset's factory receives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Rejects unknown keys, so a misspelt setting is an error rather than silently ignored, and
    NaN or infinite numbers, which no setting means (they only surface later as a "divergence")."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ComponentConfig(StrictModel):
    """A registered component chosen by name, with its plugin-defined options."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class DataConfig(StrictModel):
    """Which images to train on and how to prepare them: once, in memory, when they fit the
    memory budget; decoded on the fly by DataLoader workers (``ganzoo.data.files``) when not."""

    name: str = Field("mnist-embedded", min_length=1, description="registered dataset name")
    root: Path | None = Field(None, description="data directory (dataset root or image folder)")
    split: Literal["train", "valid", "test"] = Field("train", description="valid: CelebA only")
    download: bool = Field(False, description="download the dataset into root if it is missing")
    image_size: int = Field(32, ge=8, le=1024, description="images are resized to this square size")
    channels: Literal[1, 3] | None = Field(None, description="convert to grey (1) or RGB (3); default: keep")
    limit: int | None = Field(None, gt=0, description="use only the first N images")
    memory_budget_mb: float = Field(4096, gt=0, description="largest dataset held in memory (N x C x H x W bytes)")
    stream: Literal["auto"] | bool = Field(
        "auto", description="stream image files from disk: auto (when over the budget), true or false")
    workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes of the streaming path")
    cache_dir: Path | None = Field(None, description="cache the resized uint8 images of file datasets here")


class NoOptions(StrictModel):
    """Config model for components that take no options; rejects any key given."""


Options = StrictModel

"""Pydantic models for everything a user types, and how they are layered.

A run's config is built from layers, later ones winning: the variant's recommended defaults,
a config file (TOML, YAML or JSON), then command-line flags and ``--set key=value`` items.
Component options (``model``, ``loss.options``, ``strategy.options``) are validated by the
config model the component's plugin declared, so a typo in a plugin option is caught before
anything is built. The resolved config is saved with every run.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator, model_validator

from ganzoo.core.options import ComponentConfig, DataConfig, StrictModel
from ganzoo.errors import ConfigError
from ganzoo.io.inputs import read_input_text
from ganzoo.io.structured import load_json, load_toml, load_yaml
from ganzoo.metrics.catalogue import METRICS, MetricName
from ganzoo.runtime.devices import DEVICE_PATTERN


class OptimizerConfig(StrictModel):
    """One optimiser family for both players; ``d_lr`` allows a two time-scale update rule."""

    name: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    lr: float = Field(2e-4, gt=0, le=10)
    d_lr: float | None = Field(None, gt=0, le=10, description="discriminator lr (default: lr)")
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay; above 1 it would outweigh the loss")
    implementation: Literal["auto", "foreach", "fused", "for-loop"] = Field(
        "auto", description="optimiser kernels; auto: run.speed decides (PyTorch's default with speed off)")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError("each beta must lie in [0, 1)")
        return betas


def _known_device(device: str) -> str:
    if not DEVICE_PATTERN.match(device):
        raise ValueError("must be auto, cpu, mps, cuda or cuda:N")
    return device


DeviceName = Annotated[str, AfterValidator(_known_device)]
"""A device as users write it: auto, cpu, mps, cuda or cuda:N (shared by every config that takes one)."""
PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]


class RunConfig(StrictModel):
    """How long to train, where, and what to write."""

    out_dir: Path = Path("runs/default")
    seed: int = Field(0, ge=0, lt=2**63)
    epochs: int = Field(5, gt=0, le=100_000)
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps (a budget)")
    max_seconds: float | None = Field(None, gt=0, description="stop after this much training time (a budget)")
    batch_size: int = Field(64, gt=0, le=65_536)
    device: DeviceName = "auto"
    precision: PrecisionName = Field("auto", description="auto: run.speed decides (mixed precision on CUDA)")
    sample_every_epochs: int = Field(1, ge=0, description="0 disables sample grids")
    checkpoint_every_epochs: int = Field(5, ge=0, description="0 checkpoints only at the end")
    checkpoint_every_steps: int = Field(0, ge=0, description="also checkpoint every N steps; 0 disables")
    on_divergence: Literal["stop", "rollback"] = Field(
        "stop", description="on a NaN/Inf loss or gradient: stop, or reload the last checkpoint and halve the lr")
    max_rollbacks: int = Field(3, ge=1, le=100, description="give up after this many rollbacks")
    log_every_steps: int = Field(50, gt=0)
    num_fixed_samples: int = Field(64, gt=0, le=1024)
    speed: Literal["auto", "off"] = Field(
        "auto", description="auto: the fastest measured options for this device and variant family "
                            "(ganzoo.runtime.speed); off: the plain fp32 path. Settings given explicitly win")
    channels_last: bool | None = Field(None, description="channels_last memory format (default: run.speed decides)")
    sync_batchnorm: bool = Field(False, description="SyncBatchNorm across DDP ranks (CUDA only)")
    compile: Literal["off", "default", "reduce-overhead", "max-autotune"] | None = Field(
        None, description="torch.compile mode for G and D (default: run.speed decides)")
    eval_every_epochs: int = Field(0, ge=0, description="evaluate every N epochs and keep checkpoints/best; 0 disables")
    eval_metric: MetricName = Field("fid", description="the metric that picks the best checkpoint")
    eval_num_samples: int = Field(2000, ge=10, le=100_000, description="generated samples per evaluation")
    eval_backbone: Literal["mnist-classifier", "inception"] = "mnist-classifier"
    callbacks: list[ComponentConfig] = Field(
        default_factory=list, description="extra callbacks by registered name, each with its options")

    @model_validator(mode="after")
    def _measurable(self) -> RunConfig:
        if METRICS[self.eval_metric].needs_classifier and self.eval_backbone != "mnist-classifier":
            raise ValueError(f"run.eval_metric {self.eval_metric} needs run.eval_backbone mnist-classifier "
                             "(it reads the classifier's class predictions)")
        return self


class EMAConfig(StrictModel):
    """An exponential moving average of the generator's weights (``ganzoo.training.ema``): what is
    sampled, evaluated and saved as ``generator.safetensors`` when enabled."""

    enabled: bool = Field(False, description="keep an EMA copy of G and sample, evaluate and save it")
    decay: float = Field(0.999, ge=0.0, lt=1.0, description="weight of the old average at each G step")
    start_step: int = Field(0, ge=0, description="the copy follows G exactly until this step, then averages")
    rampup: bool = Field(False, description="warm-up: decay min(decay, (1 + t) / (10 + t)), t updates since start_step")


class AugmentConfig(StrictModel):
    """Differentiable augmentation of every image D sees (``ganzoo.training.augment``; DiffAugment)."""

    policy: list[str] = Field(default_factory=list, description="registered augmentations, applied in order; "
                                                                "e.g. \"translation,cutout,color\"")
    probability: float | None = Field(
        None, ge=0, le=1, description="each augmentation is applied to each image with this probability; default 1, "
                                      "or 0 as the start of an adaptive run (target)")
    target: float | None = Field(None, gt=0, lt=1, description="ADA (Karras et al. 2020): adapt the probability so "
                                                              "that E[sign D(augmented real)] stays at this; 0.6 "
                                                              "in the paper; off by default")
    adjust_every: int = Field(4, ge=1, le=10_000, description="ADA: steps between two adjustments of the probability")
    adjust_images: int = Field(500_000, ge=1, description="ADA: real images seen over which the probability can "
                                                          "move from 0 to 1 (its speed)")

    @field_validator("policy", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _probability_needs_a_policy(self) -> AugmentConfig:
        if not self.policy and (self.target is not None or self.probability is not None):
            what = "augment.target" if self.target is not None else "augment.probability"
            raise ValueError(f"{what} sets how often augment.policy is applied, and the policy is empty; "
                             "set augment.policy (e.g. translation,cutout,color)")
        return self

    @property
    def start_probability(self) -> float:
        """The probability at step 0: as set, else 0 for an adaptive run (ADA starts there) and 1."""
        if self.probability is not None:
            return self.probability
        return 0.0 if self.target is not None else 1.0


class TrainConfig(StrictModel):
    """The whole, validated description of a training run."""

    variant: str = Field(min_length=1)
    model: dict[str, Any] = Field(default_factory=dict)
    loss: ComponentConfig | None = Field(
        ComponentConfig(name="non-saturating"), description="the adversarial loss; null for a variant without a "
                                                            "discriminator (its strategy holds its objective)")
    strategy: ComponentConfig = ComponentConfig(name="alternating")
    data: DataConfig = DataConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    ema: EMAConfig = EMAConfig()
    augment: AugmentConfig = AugmentConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.run.precision == "fp16" and self.run.device in ("cpu", "mps"):
            raise ValueError("run.precision fp16 needs CUDA (its GradScaler is CUDA-only); use bf16 or fp32")
        if self.optimizer.implementation == "fused" and self.run.device == "cpu" and self.optimizer.name == "rmsprop":
            raise ValueError("optimizer.implementation fused is not available for rmsprop; use foreach")
        return self


CONFIG_READERS = {".toml": load_toml, ".yaml": load_yaml, ".yml": load_yaml, ".json": load_json}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML, YAML (1.2 core schema) or JSON config file into a plain dict: the file checked
    by ``ganzoo.io.inputs``, its text parsed by ``ganzoo.io.structured`` (keys given twice, deep
    nesting, YAML alias bombs and numbers out of range refused in one line naming the file)."""
    text = read_input_text(path, "config file", error=ConfigError)
    reader = CONFIG_READERS.get(path.suffix)
    if reader is None:
        raise ConfigError(f"config file {str(path)!r} must end in .toml, .yaml, .yml or .json")
    data = reader(text, f"config file {str(path)!r}", error=ConfigError, fix="fix the file")
    if data is None and reader is load_yaml:
        return {}  # an empty YAML file
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table of settings, not {type(data).__name__}")
    return data


def parse_set_items(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["run.epochs=3", "loss.options.real_label=0.9"]`` into a nested dict.

    Values are parsed as YAML 1.2 (core schema), so numbers, true/false, null, lists and maps
    work as typed, and anything else stays the string the user typed.
    """
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r} must look like section.key=value, e.g. run.epochs=3")
        assign_nested(nested, key.strip().split("."), parse_value(raw, key.strip()))
    return nested


def parse_value(raw: str, key: str = "") -> Any:
    """One ``--set`` value: YAML 1.2 core schema, or the raw string when it is not valid YAML.
    Within the bounds of ``ganzoo.io.structured`` (depth, aliases, numbers in range)."""
    shown = f"--set {key}" if key else f"--set value {raw[:40]!r}"
    return load_yaml(raw, shown, error=ConfigError, fix="fix the value", not_yaml_as_text=True)


def assign_nested(nested: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``nested[path[0]][path[1]]... = value``, making the sections on the way."""
    for part in path[:-1]:
        nested = nested.setdefault(part, {})
        if not isinstance(nested, dict):
            raise ConfigError(f"--set cannot set {'.'.join(path)!r}: {part!r} is not a section")
    nested[path[-1]] = value


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge config layers, later winning. A loss or strategy whose ``name`` changes in a
    later layer drops the earlier layer's options, which belonged to the other component."""
    merged: dict[str, Any] = {}
    for layer in layers:
        _merge_into(merged, layer)
    return merged


COMPONENT_SECTIONS = ("loss", "strategy")
"""Sections whose options belong to the component ``name`` picks (not ``data``: its settings apply
to every dataset)."""


def _merge_into(target: dict[str, Any], layer: Mapping[str, Any], top: bool = True, prefix: str = "") -> None:
    for key, value in layer.items():
        current = target.get(key)
        if current is not None and value is not None and isinstance(value, Mapping) != isinstance(current, dict):
            # a table in one layer and a value in another: each layer must be valid on its own, so
            # `run = 5` in a file is refused whether or not a flag also sets a run setting
            scalar = current if isinstance(value, Mapping) else value
            raise ConfigError(f"invalid config: {prefix}{key} must be a table of settings, got {scalar!r}; "
                              f"write it as [{prefix}{key}] with key = value lines (or {prefix}{key}.NAME=VALUE)")
        if isinstance(value, Mapping) and isinstance(current, dict):
            component = top and key in COMPONENT_SECTIONS
            if component and "name" in value and "name" in current and value["name"] != current["name"]:
                target[key] = copy.deepcopy(dict(value))
            else:
                _merge_into(current, value, top=False, prefix=f"{prefix}{key}.")
        else:
            target[key] = copy.deepcopy(value)


def validate_model(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    """Validate ``data`` against ``model``, turning failures into one readable ``ConfigError``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, where)) from None


def format_validation_error(exc: ValidationError, model: type[BaseModel], where: str = "") -> str:
    return "invalid config: " + validation_problems(exc, model, where) + "; fix it in the config file or on the command line"


def validation_problems(exc: ValidationError, model: type[BaseModel], where: str = "") -> str:
    """Each failed field of ``exc`` as ``where.field: problem``, joined with "; " (no advice:
    the caller knows whether the fix is in a config file or elsewhere)."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in (where, *error["loc"]) if part != "")
        if error["type"] == "extra_forbidden":
            problems.append(f"{location}: unknown setting{_suggest_field(model, error['loc'])}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        shown = error.get("input")
        got = "" if isinstance(shown, (dict, BaseModel)) or shown is None else f" (got {shown!r})"
        problems.append(f"{location}: {message}{got}" if location else f"{message}{got}")  # model-wide checks
    return "; ".join(problems)


def _suggest_field(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed: {', '.join(model.model_fields) or 'none'}"

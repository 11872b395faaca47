"""Generator weights as a self-describing safetensors file, and ``load_generator``.

The file's metadata says how to rebuild the model without the training run (the timm and
diffusers idea, with no code in the file): the variant, the plugin distribution and version
that provides it, the model config, image shape, latent size and classes. Loading checks all of
it, and every tensor's name, shape, dtype and finiteness, before the model sees any of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ganzoo.config import validation_problems
from ganzoo.core.contracts import check_generator, count_nonfinite_images
from ganzoo.core.interfaces import Generator
from ganzoo.core.registry import PluginInfo, Registry, get_registry
from ganzoo.core.sampling import use_sampling_layout
from ganzoo.errors import PluginError, UnknownNameError, WeightsError, contain_plugin_errors
from ganzoo.io.safe_state import read_safetensors, read_safetensors_metadata, save_safetensors
from ganzoo.io.structured import load_json
from ganzoo.runtime.devices import resolve_device
from ganzoo.version import __version__

GENERATOR_FORMAT = "ganzoo.generator.v1"
DIGEST_KEY = "metadata_sha256"
"""The header key of the digest over the metadata: an edited field no longer matches it."""
METADATA_MAX_BYTES = 1 * 2**20
"""No real generator's metadata comes near this (a model config and class names)."""
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")]
"""A variant or distribution name: printable, no spaces or control characters, at most 128 characters."""
Version = Annotated[str, Field(pattern=r"^[0-9][0-9A-Za-z.+!_-]{0,63}$")]
Channels = Annotated[int, Field(gt=0, le=64)]
Side = Annotated[int, Field(gt=0, le=16_384)]
"""An image's channels and side as a file may claim them: positive, and no larger than any real model's."""
PROBE_LATENTS = 16


class GeneratorMetadata(BaseModel):
    """What a generator file says about itself: the one schema that writing (``to_header``) and
    reading (``from_header``) share. The safetensors header holds only strings: a field typed
    ``str`` is stored as it is, every other one as JSON, under its alias where it has one."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    format: str
    variant: Name
    plugin: Name
    plugin_version: Version
    ganzoo_version: Version
    model_config_: dict[str, Any] = Field(alias="model_config")
    image_shape: tuple[Channels, Side, Side]
    latent_dim: int = Field(gt=0, le=1_000_000)
    latent_shape_: tuple[Annotated[int, Field(gt=0, le=1_000_000)], ...] | None = Field(
        None, alias="latent_shape", min_length=1, max_length=8)
    num_classes: int | None = Field(None, gt=0, le=1_000_000)
    class_names: list[Annotated[str, Field(max_length=256)]] | None = None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """One latent's shape; files written before image-shaped latents hold vectors."""
        return self.latent_shape_ or (self.latent_dim,)

    @model_validator(mode="after")
    def _names_fit_classes(self) -> GeneratorMetadata:
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for num_classes {self.num_classes}")
        return self

    def to_header(self) -> dict[str, str]:
        """The safetensors header strings of this metadata, with the digest over them."""
        header = {key: value if key in _TEXT_KEYS else json.dumps(value, sort_keys=True)
                  for key, value in self.model_dump(by_alias=True).items()}
        return {**header, DIGEST_KEY: metadata_digest(header)}

    @classmethod
    def from_header(cls, header: Mapping[str, str], shown: str = "the metadata") -> GeneratorMetadata:
        """Decode and validate a safetensors header (other keys, like ``weights``, are ignored),
        strictly: ``[1, 32.0, "32"]`` is no image shape, ``true`` no count. Raises ``ValueError``
        (``ValidationError`` among them) for one that is not such metadata."""
        fields = {key: value if key in _TEXT_KEYS else load_json(value, f"{shown} {key!r}", error=WeightsError,
                                                                   fix="re-export the weights")
                  for key, value in header.items() if key in _HEADER_KEYS}
        return cls.model_validate_json(json.dumps(fields), strict=True)


def metadata_digest(header: Mapping[str, str]) -> str:
    """SHA-256 over the metadata's header strings (its own fields only, in a fixed order)."""
    fields = {key: header[key] for key in sorted(_HEADER_KEYS) if key in header}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


_HEADER_KEYS = frozenset(field.alias or name for name, field in GeneratorMetadata.model_fields.items())
_TEXT_KEYS = frozenset(field.alias or name for name, field in GeneratorMetadata.model_fields.items()
                       if field.annotation is str)
"""The header keys of ``GeneratorMetadata``, and those of them stored as plain text (the fields typed ``str``)."""


def save_generator(generator: Generator, path: Path, *, variant: str, model_config: dict[str, Any],
                   plugin: PluginInfo, class_names: list[str] | None = None,
                   extra: dict[str, str] | None = None) -> None:
    """Atomically write the generator's weights with everything needed to rebuild it (and the
    ``extra`` header strings, which reading ignores). Metadata that reading would refuse is
    refused here, before a file that cannot be loaded is written."""
    try:
        metadata = GeneratorMetadata.model_validate({
            "format": GENERATOR_FORMAT, "variant": variant, "plugin": plugin.distribution,
            "plugin_version": plugin.version, "ganzoo_version": __version__, "model_config": model_config,
            "image_shape": generator.image_shape, "latent_dim": generator.latent_dim,
            "latent_shape": generator.latent_shape, "num_classes": generator.num_classes, "class_names": class_names,
        })
    except ValidationError as exc:
        problems = validation_problems(exc, GeneratorMetadata)
        raise PluginError(f"variant {variant!r} ({plugin.distribution}) cannot be saved: its generator's metadata "
                          f"would not load back ({problems}); fix the plugin") from None
    save_safetensors(dict(generator.state_dict()), {**metadata.to_header(), **(extra or {})}, path)


def read_generator_metadata(path: Path | str) -> GeneratorMetadata:
    """Parse and validate a generator file's metadata without loading its tensors."""
    path = Path(path)
    return _parse_metadata(read_safetensors_metadata(path, "weights file"), path)


def _parse_metadata(raw: dict[str, str], path: Path) -> GeneratorMetadata:
    """The file's metadata, refused in one line where it lies: not ganzoo's, larger than any real
    one, edited after writing (its digest), ill-typed, or from a newer ganzoo."""
    if raw.get("format") != GENERATOR_FORMAT:
        raise WeightsError(f"{str(path)!r} is a safetensors file but not a ganzoo generator "
                           f"(format {one_line_repr(raw.get('format'))}); give the generator.safetensors a run wrote")
    size = sum(len(key) + len(value) for key, value in raw.items())
    if size > METADATA_MAX_BYTES:
        raise WeightsError(f"{str(path)!r} has {size:,} bytes of metadata, more than any generator's "
                           f"({METADATA_MAX_BYTES:,} at most); the file is damaged or not a ganzoo generator")
    try:
        metadata = GeneratorMetadata.from_header(raw, f"{str(path)!r} has corrupt ganzoo metadata:")
    except (ValueError, TypeError) as exc:
        detail = (validation_problems(exc, GeneratorMetadata) if isinstance(exc, ValidationError)
                  else str(exc).splitlines()[0])
        raise WeightsError(f"{str(path)!r} has corrupt ganzoo metadata ({detail}); re-export the weights") from None
    if _release(metadata.ganzoo_version) > _release(__version__):
        raise WeightsError(f"{str(path)!r} was written by ganzoo {metadata.ganzoo_version}, newer than the installed "
                           f"{__version__}; upgrade ganzoo (`pip install -U ganzoo`) to load it")
    if DIGEST_KEY in raw and raw[DIGEST_KEY] != metadata_digest(raw):  # files before the digest have none
        raise WeightsError(f"{str(path)!r}: its metadata was changed after it was written (it no longer matches "
                           f"its {DIGEST_KEY}); re-export the weights from the run that trained them")
    return metadata


def _release(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: ``"0.10.2rc1"`` -> ``(0, 10, 2)``."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in numbers.group().split(".")) if numbers else ()


def one_line_repr(value: object) -> str:
    """``repr`` of a value a file holds, cut to 60 characters."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def load_generator(path: Path | str, device: str | torch.device = "auto",
                   registry: Registry | None = None) -> Generator:
    """Rebuild a generator from a weights file, ready for ``generator.sample(n, seed=...)``: in
    eval mode on ``device``, and in channels_last if it convolves (``use_sampling_layout``)."""
    path = Path(path)
    tensors, raw_metadata = read_safetensors(path, "weights file")
    metadata = _parse_metadata(raw_metadata, path)
    registry = registry or get_registry()
    try:
        registered = registry.get("variant", metadata.variant)
    except UnknownNameError:
        raise PluginError(f"{str(path)!r} needs variant {metadata.variant!r} from plugin {metadata.plugin!r} "
                          f"(version {metadata.plugin_version}), which is not installed; "
                          f"`pip install {metadata.plugin}` and try again") from None
    spec, hint = registered.spec, other_version_hint(metadata, registered.plugin.version)
    if spec.conditional and metadata.num_classes is None:
        raise WeightsError(f"{str(path)!r} says it is unconditional (num_classes: null), but its variant "
                           f"{metadata.variant!r} is conditional; the file's metadata is damaged or was edited: "
                           "re-export the weights from the run that trained them")
    try:
        options = spec.config_model.model_validate(metadata.model_config_)
    except ValidationError as exc:
        detail = validation_problems(exc, spec.config_model, "model")
        raise WeightsError(f"{str(path)!r}: its model config does not fit variant {metadata.variant!r} as installed "
                           f"({detail}){hint or '; the metadata is damaged or was edited: re-export the weights'}") from None
    with contain_plugin_errors(f"{str(path)!r}: variant {metadata.variant!r} could not be built from the file's config",
                               "the file does not match the plugin", error=WeightsError):
        generator = spec.build_generator(options, metadata.image_shape, metadata.num_classes)
    if tuple(generator.latent_shape) != metadata.latent_shape:
        raise WeightsError(f"{str(path)!r} says its latents are shaped {metadata.latent_shape}, but its variant "
                           f"{metadata.variant!r} builds {tuple(generator.latent_shape)} from the file's config; "
                           "the metadata is damaged or was edited: re-export the weights")
    check_tensors_fit(generator, tensors, path, hint)
    generator.load_state_dict(tensors, strict=True)
    check_generator(generator, metadata.image_shape, what=f"variant {metadata.variant!r} ({metadata.plugin})",
                    check_range=False)
    check_finite_probe(generator, path)
    check_normalisation_fits(generator, path)  # finite images that every pixel of saturates
    device = device if isinstance(device, torch.device) else resolve_device(device)
    return use_sampling_layout(generator.to(device).eval())


@torch.no_grad()
def check_finite_probe(generator: Generator, path: Path) -> None:
    """Weights that load but generate NaN/Inf (huge values that overflow, BatchNorm statistics that
    do not fit) would give black images and meaningless metrics; refuse them on a probe of
    ``PROBE_LATENTS`` seeded latents, every class included. ``sample`` and ``evaluate`` also check
    what they generate, for latents the probe did not try."""
    rng = torch.Generator().manual_seed(0)
    count = max(PROBE_LATENTS, min(generator.num_classes or 0, 1024))
    latents = generator.sample_latents(count, generator=rng, device="cpu")
    labels = None if generator.num_classes is None else torch.arange(count) % generator.num_classes
    bad = count_nonfinite_images(generator.sample(count, latents=latents, labels=labels))
    if bad:
        raise WeightsError(f"{str(path)!r}: the generator makes NaN or Inf images from these weights ({bad} of "
                           f"{count} probe images); they are from a diverged run or damaged, use an earlier checkpoint")


BATCHNORM_MAX_GAIN = 1e4
"""The most a trained BatchNorm channel amplifies in eval mode, |weight| / sqrt(running_var + eps):
a channel whose statistics went to 0 gives at most 1/sqrt(eps) ~ 316 times its weight, and
trained weights stay far below 30."""


def check_normalisation_fits(generator: Generator, path: Path) -> None:
    """Refuse BatchNorm statistics that do not fit their weights (a variance of 0 with a huge gain):
    every image would saturate to -1 or 1, finite, and sample without a word."""
    for name, layer in generator.named_modules():
        if not (isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.affine
                and layer.running_var is not None):
            continue
        weight, variance = layer.weight.detach(), layer.running_var.detach()
        gain = weight.abs() / torch.sqrt(variance + layer.eps)
        if float(gain.max()) > BATCHNORM_MAX_GAIN:
            channel = int(gain.argmax())
            raise WeightsError(f"{str(path)!r}: BatchNorm {name!r} channel {channel} multiplies by "
                               f"{float(gain.max()):.3g} (running variance {float(variance[channel]):.3g}, "
                               f"weight {float(weight[channel]):.3g}), which no trained layer does; the file "
                               "is damaged, use an earlier checkpoint")


def other_version_hint(metadata: GeneratorMetadata, installed: str) -> str:
    """What to do when a file does not fit because its plugin changed since it was written: the
    end of the error line, or "" when the versions agree (then the file itself is at fault)."""
    if metadata.plugin_version == installed:
        return ""
    return (f"; it was written by {metadata.plugin} {metadata.plugin_version} and {installed} is installed: "
            f"retrain it, or `pip install {metadata.plugin}=={metadata.plugin_version}` to use it")


def check_tensors_fit(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path, hint: str = "") -> None:
    """Names, shapes, dtypes and finiteness must match the freshly built module exactly, and
    BatchNorm's running variances must be variances (not negative). ``hint`` replaces "damaged or
    from another model" where the file's plugin version differs from the installed one."""
    another_model = hint or "; the file is damaged or from another model"
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        parts = ([f"missing {_few(missing)}"] if missing else []) + ([f"unexpected {_few(extra)}"] if extra else [])
        raise WeightsError(f"{str(path)!r} does not fit its variant: {'; '.join(parts)}{another_model}")
    for name, reference in expected.items():
        tensor = tensors[name]
        if tensor.shape != reference.shape:
            raise WeightsError(f"{str(path)!r}: tensor {name!r} has shape {tuple(tensor.shape)}, the model "
                               f"needs {tuple(reference.shape)}{another_model}")
        if tensor.dtype != reference.dtype:
            raise WeightsError(f"{str(path)!r}: tensor {name!r} is {tensor.dtype}, the model needs "
                               f"{reference.dtype}; re-export the weights")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise WeightsError(f"{str(path)!r}: tensor {name!r} holds NaN or Inf values; "
                               "these weights are from a diverged run, use an earlier checkpoint")
        if name.endswith("running_var") and bool((tensor < 0).any()):
            raise WeightsError(f"{str(path)!r}: tensor {name!r} holds negative variances (down to "
                               f"{float(tensor.min()):.3g}); the file is damaged, use an earlier checkpoint")


def _few(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")

"""A generator outside ganzoo: ONNX, TorchScript or a ``torch.export`` program, checked on the way out.

Every format takes ``latents`` (float32, ``(batch, *latent_shape)``: ``(batch, latent_dim)`` for a GAN) and, for a conditional
generator, ``labels`` (int64, ``(batch,)``) as a second input, and returns ``images`` (float32,
``(batch, C, H, W)`` in [-1, 1]); the batch size is free. The ganzoo metadata (variant, plugin,
image shape, latent size, classes) travels inside the file: ONNX ``metadata_props["ganzoo"]``,
and a ``ganzoo.json`` extra file in the TorchScript and ``.pt2`` archives, all the same JSON.

ONNX goes through ``torch.onnx.export(dynamo=True)``, the exporter PyTorch develops and
defaults to (the TorchScript-based one is deprecated); it needs ``onnx`` and ``onnxscript``,
which the ``ganzoo[export]`` extra installs with ``onnxruntime`` for the check. ``check_export``
runs the written file on fixed latents (and labels) and compares it with ``Generator.sample``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from ganzoo.core.interfaces import Generator
from ganzoo.errors import ConfigError, PluginError, WeightsError, contain_plugin_errors
from ganzoo.generators.weights import GeneratorMetadata
from ganzoo.io.files import atomic_write_bytes
from ganzoo.io.structured import load_json

ExportFormat = Literal["onnx", "torchscript", "exported-program"]
SUFFIXES: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
METADATA_KEY = "ganzoo"
METADATA_FILE = "ganzoo.json"
EXTRA = "pip install 'ganzoo[export]'"
TOLERANCE = 1e-4
"""Largest absolute difference from ``Generator.sample`` an export may show (images lie in [-1, 1])."""
CHECK_BATCH = 5  # not the batch the export was traced with: the check also proves the batch axis is free


def export_metadata(metadata: GeneratorMetadata) -> dict[str, Any]:
    """What the exported file says about itself: enough to feed it and read its output."""
    conditional = metadata.num_classes is not None
    return {"format": "ganzoo.generators.export.v1", "variant": metadata.variant, "plugin": metadata.plugin,
            "plugin_version": metadata.plugin_version, "ganzoo_version": metadata.ganzoo_version,
            "image_shape": list(metadata.image_shape), "latent_dim": metadata.latent_dim,
            "latent_shape": list(metadata.latent_shape),
            "num_classes": metadata.num_classes, "class_names": metadata.class_names,
            "inputs": ["latents", "labels"] if conditional else ["latents"], "outputs": ["images"],
            "value_range": [-1, 1]}


def require_exporter(fmt: ExportFormat) -> None:
    """Refuse ONNX export, before any work, when the exporter's packages are missing."""
    missing = [name for name in ("onnx", "onnxscript") if fmt == "onnx" and not _importable(name)]
    if missing:
        raise ConfigError(f"--format onnx needs {' and '.join(missing)}: {EXTRA}")


def export_generator(generator: Generator, metadata: GeneratorMetadata, fmt: ExportFormat, out: Path) -> None:
    """Write ``generator`` (on the CPU, in eval mode) to ``out`` in ``fmt``, atomically."""
    generator = generator.cpu().eval()
    about = json.dumps(export_metadata(metadata), sort_keys=True)
    writers = {"onnx": _onnx_bytes, "torchscript": _torchscript_bytes, "exported-program": _exported_program_bytes}
    # The plugin's model may do something the exporter cannot follow.
    with contain_plugin_errors(f"variant {metadata.variant!r} ({metadata.plugin}) could not be exported to {fmt}",
                               "try another --format"), _quiet():
        data = writers[fmt](generator, about)
    atomic_write_bytes(data, out)


def _example_inputs(generator: Generator) -> tuple[torch.Tensor, ...]:
    latents = torch.randn(2, *generator.latent_shape, generator=torch.Generator().manual_seed(0))
    if generator.num_classes is None:
        return (latents,)
    return latents, torch.arange(2, dtype=torch.int64) % generator.num_classes


def _dynamic_batch(generator: Generator) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch")
    return {"latents": {0: batch}, **({"labels": {0: batch}} if generator.num_classes is not None else {})}


def _input_names(generator: Generator) -> list[str]:
    return ["latents"] if generator.num_classes is None else ["latents", "labels"]


def _onnx_bytes(generator: Generator, about: str) -> bytes:
    program = torch.onnx.export(generator, _example_inputs(generator), input_names=_input_names(generator),
                                output_names=["images"], dynamo=True, dynamic_shapes=_dynamic_batch(generator),
                                verbose=False)
    program.model.metadata_props[METADATA_KEY] = about
    return program.model_proto.SerializeToString()


def _torchscript_bytes(generator: Generator, about: str) -> bytes:
    traced = torch.jit.trace(generator, _example_inputs(generator))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={METADATA_FILE: about})
    return buffer.getvalue()


def _exported_program_bytes(generator: Generator, about: str) -> bytes:
    program = torch.export.export(generator, _example_inputs(generator), dynamic_shapes=_dynamic_batch(generator))
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={METADATA_FILE: about})
    return buffer.getvalue()


def read_export_metadata(path: Path, fmt: ExportFormat) -> dict[str, Any]:
    """The ganzoo metadata embedded in an exported file."""
    with _quiet():
        if fmt == "onnx":
            import onnx

            props = {prop.key: prop.value for prop in onnx.load(str(path), load_external_data=False).metadata_props}
            return load_json(props[METADATA_KEY], f"{str(path)!r} metadata", error=WeightsError)
        extra = {METADATA_FILE: ""}
        if fmt == "torchscript":
            torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        else:
            torch.export.load(str(path), extra_files=extra)
    return load_json(extra[METADATA_FILE], f"{str(path)!r} metadata", error=WeightsError)


def run_exported(path: Path, fmt: ExportFormat, latents: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The exported file's images for ``latents`` (and ``labels``), on the CPU."""
    inputs = (latents,) if labels is None else (latents, labels.to(torch.int64))
    with _quiet():
        if fmt == "onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feeds = {name: tensor.numpy() for name, tensor in zip(("latents", "labels"), inputs)}
            return torch.from_numpy(session.run(["images"], feeds)[0])
        module = torch.jit.load(str(path), map_location="cpu") if fmt == "torchscript" else \
            torch.export.load(str(path)).module()
        with torch.no_grad():
            return module(*inputs)


def onnxruntime_missing(fmt: ExportFormat) -> bool:
    return fmt == "onnx" and not _importable("onnxruntime")


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def check_export(path: Path, fmt: ExportFormat, generator: Generator, *, seed: int = 0) -> float:
    """Run the exported file on seeded latents (and every class in turn) against ``generator.sample``;
    returns the largest difference, and refuses one above ``TOLERANCE``."""
    latents = generator.sample_latents(CHECK_BATCH, generator=torch.Generator().manual_seed(seed), device="cpu")
    labels = None if generator.num_classes is None else torch.arange(CHECK_BATCH) % generator.num_classes
    expected = generator.sample(CHECK_BATCH, latents=latents, labels=labels).cpu()
    difference = float((run_exported(path, fmt, latents, labels) - expected).abs().max())
    if not difference <= TOLERANCE:
        raise PluginError(f"the {fmt} export {str(path)!r} gives other images than the generator (largest "
                          f"difference {difference:.2g}, allowed {TOLERANCE:g}); try another --format")
    return difference


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters print progress and warn that TorchScript is deprecated; the CLI says what matters."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield

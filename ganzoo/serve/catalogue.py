"""The generators ``ganzoo serve`` offers: found under the given paths, loaded once, each under
an opaque id.

Requests name a generator only by that id, never by a path, so no parameter can reach a file
the catalogue did not find. Every file is loaded with ``load_generator`` at start-up, which
checks it completely; one that is damaged or hostile stays in the list with the one line the
CLI would print for it, and is never sampled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.core.interfaces import Generator
from ganzoo.core.registry import Registry
from ganzoo.errors import ConfigError, GanzooError, first_line
from ganzoo.generators.weights import GeneratorMetadata, load_generator, read_generator_metadata
from ganzoo.io.files import describe_os_error
from ganzoo.serve.runinfo import RunSummary, summarize_run

WEIGHTS_SUFFIX = ".safetensors"
SKIPPED_FOLDERS = frozenset({"checkpoints"})
"""Training state, not generators (``RunDirectory.checkpoint``'s folder)."""
MAX_DEPTH = 6
MAX_GENERATORS = 100


class UnknownGeneratorError(GanzooError):
    """A request named an id the catalogue does not hold."""


@dataclass(frozen=True)
class GeneratorEntry:
    """One weights file: what it says about itself and its run, and either a loaded generator or
    the one-line error that stops it from being served."""

    id: str
    path: Path
    metadata: GeneratorMetadata | None
    run: RunSummary | None
    generator: Generator | None
    error: str | None

    @property
    def class_names(self) -> list[str] | None:
        """The classes by name, or by number when the file names none; ``None`` if unconditional."""
        if self.generator is None or self.generator.num_classes is None:
            return None
        names = self.metadata.class_names if self.metadata else None
        return list(names) if names else [str(index) for index in range(self.generator.num_classes)]

    def to_json(self) -> dict[str, Any]:
        """What the page lists: no tensors, no absolute paths beyond what the user typed."""
        meta = self.metadata
        return {
            "id": self.id, "source": str(self.path), "error": self.error,
            "variant": meta.variant if meta else None, "plugin": meta.plugin if meta else None,
            "plugin_version": meta.plugin_version if meta else None,
            "image_shape": list(meta.image_shape) if meta else None,
            "latent_dim": meta.latent_dim if meta else None,
            "num_classes": meta.num_classes if meta else None, "class_names": self.class_names,
            "run": self.run.to_json() if self.run else None,
        }


class Catalogue:
    """The entries, in the order they were found, looked up by id."""

    def __init__(self, entries: Iterable[GeneratorEntry]) -> None:
        self.entries = {entry.id: entry for entry in entries}

    @classmethod
    def load(cls, paths: Sequence[Path], device: str | torch.device = "cpu",
             registry: Registry | None = None) -> Catalogue:
        """Find every weights file under ``paths`` and load each (see ``find_weights``)."""
        return cls(load_entry(path, device, registry) for path in find_weights(paths))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[GeneratorEntry]:
        return iter(self.entries.values())

    def get(self, generator_id: str) -> GeneratorEntry:
        try:
            return self.entries[generator_id]
        except KeyError:
            shown = generator_id if len(generator_id) <= 40 else generator_id[:40] + "..."
            raise UnknownGeneratorError(f"unknown generator {shown!r}; GET /api/generators lists the ids "
                                        "this server has") from None


def generator_id(path: Path) -> str:
    """Opaque and stable across restarts: the same file keeps its id, so a bookmarked page still works."""
    return hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def find_weights(paths: Sequence[Path]) -> list[Path]:
    """Weights files given directly, and every ``*.safetensors`` under the given directories
    (checkpoint and hidden folders skipped, symlinked folders not followed), at most
    ``MAX_GENERATORS``, each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            found.update(dict.fromkeys(_weights_under(path)))
        else:
            raise ConfigError(f"{str(path)!r} does not exist; give weights files or run directories "
                              "(for example runs/, which `make demo` fills)")
    unique = list({path.resolve(): path for path in found}.values())
    return unique[:MAX_GENERATORS]


def _weights_under(root: Path) -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        depth = len(Path(folder).relative_to(root).parts)
        subfolders[:] = sorted(name for name in subfolders if depth < MAX_DEPTH
                               and name not in SKIPPED_FOLDERS and not name.startswith("."))
        found += [Path(folder) / name for name in sorted(files)
                  if name.endswith(WEIGHTS_SUFFIX) and not name.startswith(".")]
    return found


def load_entry(path: Path, device: str | torch.device = "cpu", registry: Registry | None = None) -> GeneratorEntry:
    """Load one file; any failure becomes the entry's error line, exactly as the CLI words it."""
    metadata = generator = error = None
    try:
        metadata = read_generator_metadata(path)
        generator = load_generator(path, device=device, registry=registry)
    except GanzooError as exc:
        error = str(exc)
    except OSError as exc:
        error = describe_os_error(exc)
    except Exception as exc:  # a bug, ours or a plugin's: still one line, never a traceback on the page
        error = f"internal error: {type(exc).__name__}: {first_line(exc)}"
    return GeneratorEntry(id=generator_id(path), path=path, metadata=metadata, run=summarize_run(path),
                          generator=generator, error=error)

"""What an evaluation returns: every number with its real-vs-real baseline, and the protocol.

A metric value means little without how it was measured, so the protocol (backbones and their
fingerprints, sample counts, real data and split, resolution, seed, library versions) travels
with every result, in Python and in the JSON file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.io.files import atomic_write_bytes
from ganzoo.metrics.catalogue import METRIC_GROUPS, METRICS, format_value

DEFAULT_METRICS = METRIC_GROUPS
DEFAULT_NUM_SAMPLES = 10_000


@dataclass(frozen=True)
class MetricValue:
    """One number: ``name`` on ``backbone``, its spread where it has one, and the real-vs-real baseline."""

    name: str
    backbone: str
    value: float
    baseline: float | None = None
    std: float | None = None

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.name].lower_is_better

    @property
    def label(self) -> str:
        """How tables name it: Fréchet distance on Inception features is the FID everyone quotes."""
        return "FID" if self.name == "fid" and self.backbone == "inception" else METRICS[self.name].label

    @property
    def shown(self) -> str:
        """The value as tables print it, with its spread: ``0.012 ± 0.003``."""
        text = format_value(self.name, self.value)
        return text if self.std is None else f"{text} ± {format_value(self.name, self.std)}"

    @property
    def baseline_shown(self) -> str:
        return "" if self.baseline is None else format_value(self.name, self.baseline)


@dataclass
class EvaluationResult:
    """All metric values, the protocol they were measured under, and notes (e.g. skipped backbones)."""

    values: list[MetricValue]
    protocol: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def get(self, name: str, backbone: str | None = None) -> MetricValue:
        """The value of metric ``name`` (on ``backbone``, or the first backbone that has it)."""
        for value in self.values:
            if value.name == name and (backbone is None or value.backbone == backbone):
                return value
        where = f" on backbone {backbone!r}" if backbone else ""
        raise KeyError(f"no metric {name!r}{where} in this result; have {[v.name for v in self.values]}")

    def describe_protocol(self) -> str:
        """One line: how many samples against which real data, at what resolution and seed, and
        the sampling options that change the samples (truncation, a precision other than fp32)."""
        protocol = self.protocol
        return (f"{protocol['num_generated']:,} generated vs {protocol['num_real']:,} real "
                f"({protocol['real_dataset']}, {protocol['real_split']} split) at "
                f"{'x'.join(map(str, protocol['resolution']))}, seed {protocol['seed']}"
                + (f", truncation {protocol['truncation']}" if "truncation" in protocol else "")
                + (f", sampled in {protocol['sampling_precision']}" if "sampling_precision" in protocol else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol,
                "metrics": [{**asdict(v), "lower_is_better": v.lower_is_better} for v in self.values],
                "details": self.details, "notes": self.notes}

    def write_json(self, path: Path) -> None:
        atomic_write_bytes((json.dumps(self.to_dict(), indent=2) + "\n").encode(), Path(path))

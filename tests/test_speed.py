"""``run.speed``: auto fills the open speed settings from the table, off is the plain path,
explicit settings win, the choice is printed once and recorded, and a resume keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganzoo.config import TrainConfig
from ganzoo.core.callback import Callback
from ganzoo.errors import ConfigError
from ganzoo.runtime import speed
from ganzoo.runtime.speed import FAST_PATHS, FastPath, choose_speed, fast_path
from ganzoo.training.loop import train
from ganzoo.training.plan import make_plan

CPU = torch.device("cpu")


def config(**run: object) -> TrainConfig:
    return TrainConfig.model_validate({"variant": "dcgan", "run": run})


@pytest.fixture
def bf16_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "cpu_bf16_kind", lambda: "amx")
    monkeypatch.setitem(FAST_PATHS, ("cpu", "dcgan"),
                        FastPath(channels_last=True, optimizer="foreach", compile="off", bf16=("amx", "avx512")))


def test_auto_takes_the_table_row_of_the_device_and_family(bf16_cpu: None) -> None:
    chosen = choose_speed(config(), CPU, "dcgan").config
    assert chosen.run.channels_last is True and chosen.run.compile == "off"
    assert chosen.optimizer.implementation == "foreach" and chosen.run.precision == "bf16"


def test_bf16_is_chosen_only_where_the_cpu_computes_it_natively(bf16_cpu: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "cpu_bf16_kind", lambda: "none")
    assert choose_speed(config(), CPU, "dcgan").config.run.precision == "fp32"


@pytest.mark.parametrize(("row", "kind", "precision"), [
    (("amx",), "amx", "bf16"), (("amx",), "avx512", "fp32"), (("amx",), "none", "fp32"),
    (("amx", "avx512"), "avx512", "bf16"), ((), "amx", "fp32"), (("cuda",), "amx", "fp32"),
])
def test_a_row_takes_bf16_only_on_the_kinds_of_bf16_it_names(monkeypatch: pytest.MonkeyPatch, row: tuple[str, ...],
                                                             kind: str, precision: str) -> None:
    """bf16 convolutions were 1.29x faster than fp32 with AMX and 0.28x with AVX512-BF16 alone."""
    monkeypatch.setattr(speed, "cpu_bf16_kind", lambda: kind)
    monkeypatch.setitem(FAST_PATHS, ("cpu", "dcgan"),
                        FastPath(channels_last=False, optimizer="auto", compile="off", bf16=row))
    assert choose_speed(config(), CPU, "dcgan").config.run.precision == precision


def test_every_row_names_only_bf16_kinds_that_exist() -> None:
    """A misspelt kind would switch bf16 off for that row without a word."""
    assert all(kind in speed.BF16_KINDS for row in FAST_PATHS.values() for kind in row.bf16)


def test_an_unknown_family_gets_the_device_default_row() -> None:
    assert fast_path(CPU, "someone-elses-gan") == FAST_PATHS[("cpu", "*")]
    assert fast_path(torch.device("cuda"), "dcgan") == FAST_PATHS[("cuda", "*")]


def test_off_is_the_plain_path(bf16_cpu: None) -> None:
    chosen = choose_speed(config(speed="off"), CPU, "dcgan")
    run = chosen.config.run
    assert (run.channels_last, run.compile, run.precision) == (False, "off", "fp32")
    assert chosen.config.optimizer.implementation == "auto"  # PyTorch's own default kernels
    assert set(chosen.reasons.values()) == {"speed off"}


def test_explicit_settings_win_over_the_table(bf16_cpu: None) -> None:
    given = TrainConfig.model_validate({"variant": "dcgan", "optimizer": {"implementation": "for-loop"},
                                        "run": {"channels_last": False, "precision": "fp32", "compile": "default"}})
    chosen = choose_speed(given, CPU, "dcgan")
    run = chosen.config.run
    assert (run.channels_last, run.compile, run.precision) == (False, "default", "fp32")
    assert chosen.config.optimizer.implementation == "for-loop"
    assert set(chosen.reasons.values()) == {"set"}
    assert chosen.describe() == "channels_last off, optimizer for-loop, compile default, precision fp32 (set)"


def test_a_resumed_run_keeps_what_it_recorded_even_if_the_table_changed(bf16_cpu: None) -> None:
    saved = {"run": {"channels_last": False, "compile": "off", "precision": "auto"},
             "optimizer": {"implementation": "auto"}}  # a run saved before run.speed existed
    chosen = choose_speed(config(), CPU, "dcgan", saved)
    assert chosen.config.run.precision == "auto"  # resolved as it was then: fp32 on the CPU
    assert chosen.config.run.channels_last is False and chosen.config.optimizer.implementation == "auto"
    assert set(chosen.reasons.values()) == {"kept from the resumed run"}


def test_rmsprop_gets_foreach_where_the_table_says_fused() -> None:
    given = TrainConfig.model_validate({"variant": "wgan-clip", "optimizer": {"name": "rmsprop"}})
    assert choose_speed(given, torch.device("cuda"), "dcgan").config.optimizer.implementation == "foreach"


def test_every_builtin_variant_names_a_family_the_table_has() -> None:
    from ganzoo.core.registry import get_registry

    registry = get_registry()
    for name in registry.names("variant"):
        family = registry.variant(name).speed_family
        assert ("cpu", family) in FAST_PATHS, f"{name}: family {family!r} has no cpu row in ganzoo.runtime.speed.FAST_PATHS"


class NoteCollector(Callback):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def on_note(self, run: object, message: str) -> None:
        self.notes.append(message)


def test_a_run_prints_its_choice_once_and_records_it_in_its_config(tmp_path: Path) -> None:
    plan = make_plan([{"variant": "mlp", "data": {"limit": 64},
                       "run": {"out_dir": str(tmp_path / "run"), "max_steps": 1, "batch_size": 32,
                               "device": "cpu", "sample_every_epochs": 0}}])
    collector = NoteCollector()
    result = train(plan, callbacks=[collector])
    recorded = json.loads((result.out_dir / "config.json").read_text())
    row = fast_path(CPU, "mlp")
    assert recorded["run"]["speed"] == "auto"
    assert recorded["run"]["channels_last"] is row.channels_last
    assert recorded["run"]["compile"] == row.compile
    assert recorded["optimizer"]["implementation"] == row.optimizer
    assert recorded["run"]["precision"] == result.precision
    speed_notes = [note for note in collector.notes if note.startswith("speed auto:")]
    assert len(speed_notes) == 1 and "(speed auto for cpu/mlp)" in speed_notes[0]
    assert f"(speed auto for cpu/mlp, bf16 kind {speed.bf16_kind(CPU)})" in speed_notes[0]


def test_resume_refuses_a_changed_explicit_precision_but_keeps_an_auto_one(tmp_path: Path) -> None:
    layer = {"variant": "mlp", "data": {"limit": 64},
             "run": {"out_dir": str(tmp_path / "run"), "max_steps": 1, "batch_size": 32, "device": "cpu",
                     "sample_every_epochs": 0, "speed": "off"}}
    train(make_plan([layer]))
    more = {**layer, "run": {**layer["run"], "max_steps": 2, "speed": "auto"}}
    resumed = train(make_plan([more]), resume=True)
    assert resumed.precision == "fp32" and resumed.progress.global_step == 2
    recorded = json.loads((resumed.out_dir / "config.json").read_text())
    assert recorded["optimizer"]["implementation"] == "auto" and recorded["run"]["channels_last"] is False
    changed = {**layer, "run": {**layer["run"], "max_steps": 3, "precision": "bf16"}}
    with pytest.raises(ConfigError, match="run.precision was 'fp32', now 'bf16'"):
        train(make_plan([changed]), resume=True)


@pytest.mark.parametrize(("vendor", "family", "flags", "onednn", "kind"), [
    ("AuthenticAMD", 25, "fpu sse avx2", True, "none"),  # Zen 3: no bf16 instructions
    ("GenuineIntel", 6, "fpu avx2 avx512f avx512_bf16", True, "avx512"),  # Cooper Lake
    ("GenuineIntel", 6, "fpu avx2 avx512_bf16 amx_bf16 amx_tile", True, "amx"),  # Sapphire Rapids
    ("AuthenticAMD", 25, "fpu avx2 avx512f avx512_bf16", True, "avx512-zen4"),
    ("AuthenticAMD", 26, "fpu avx2 avx512f avx512_bf16 avx_vnni", True, "avx512"),  # Zen 5
    ("GenuineIntel", 6, "fpu avx2 avx512f avx512_bf16", False, "none"),  # no oneDNN bf16 kernels
])
def test_the_bf16_kind_needs_the_instructions_and_onednn_kernels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 vendor: str, family: int, flags: str, onednn: bool,
                                                                 kind: str) -> None:
    from ganzoo.runtime import precision

    cpuinfo = tmp_path / "cpuinfo"
    block = f"processor\t: {{}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nflags\t\t: {flags}\n"
    cpuinfo.write_text(block.format(0) + "\n" + block.format(1))
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn, raising=False)
    precision.cpu_bf16_kind.cache_clear()
    try:
        assert precision.cpu_bf16_kind() == kind
        assert precision.cpu_has_native_bf16() is (kind != "none")
    finally:
        precision.cpu_bf16_kind.cache_clear()


def test_bf16_without_native_support_is_noted_once_at_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It is correct there, only slow (PyTorch's reference convolutions), so a note, not an error."""
    from ganzoo.runtime import precision

    monkeypatch.setattr(precision, "cpu_bf16_kind", lambda: "none")
    assert precision.precision_note("fp32", CPU) is None
    assert precision.precision_note("bf16", torch.device("cuda")) is None
    plan = make_plan([{"variant": "mlp", "data": {"limit": 64},
                       "run": {"out_dir": str(tmp_path / "run"), "max_steps": 1, "batch_size": 32,
                               "device": "cpu", "sample_every_epochs": 0, "precision": "bf16"}}])
    collector = NoteCollector()
    train(plan, callbacks=[collector])
    slow = [note for note in collector.notes if note.startswith("precision bf16 on a CPU without native bf16")]
    assert len(slow) == 1 and "fp32 is faster here" in slow[0]
    for fast in ("amx", "avx512"):
        monkeypatch.setattr(precision, "cpu_bf16_kind", lambda fast=fast: fast)
        assert precision.precision_note("bf16", CPU) is None
    monkeypatch.setattr(precision, "cpu_bf16_kind", lambda: "avx512-zen4")  # native, but measured slower
    zen4 = precision.precision_note("bf16", CPU)
    assert zen4 is not None and "Zen 4" in zen4 and "fp32 is faster here" in zen4

"""The registry discovers plugins through real entry points and contains broken ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ganzoo import VariantSpec, hookimpl
from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.registry import PluginInfo, build_registry
from ganzoo_mlp.models import MLPDiscriminator, MLPGenerator, MLPOptions


def test_builtin_plugins_arrive_through_entry_points(registry):
    mlp = registry.get("variant", "mlp")
    assert mlp.plugin.distribution == "ganzoo-mlp" and mlp.plugin.name == "mlp"
    assert registry.get("loss", "non-saturating").plugin.distribution == "ganzoo"
    assert {"minimax", "non-saturating"} <= set(registry.names("loss"))
    assert "alternating" in registry.names("strategy")
    assert {"mnist-embedded", "mnist", "image-folder"} <= set(registry.names("dataset"))


def test_unknown_name_suggests_the_closest(registry):
    with pytest.raises(UnknownNameError, match=r"unknown variant 'mpl'; did you mean 'mlp'\?"):
        registry.variant("mpl")


class _Impostor:
    """A second plugin claiming the name 'mlp'."""

    @hookimpl
    def ganzoo_register_variants(self):
        return [VariantSpec("mlp", MLPGenerator, MLPDiscriminator, MLPOptions, "impostor")]


def test_a_name_registered_twice_names_both_plugins():
    _, registry = build_registry([(_Impostor(), PluginInfo("impostor", "ganzoo-impostor", "9.9"))])
    with pytest.raises(PluginError, match="'ganzoo-impostor' and 'ganzoo-mlp'"):
        registry.variant("mlp")
    assert any("ganzoo-impostor" in str(problem) for problem in registry.problems)
    assert registry.loss("non-saturating")  # the rest keeps working


class _WrongType:
    @hookimpl
    def ganzoo_register_losses(self):
        return ["not a spec"]

    @hookimpl
    def ganzoo_register_strategies(self):
        raise RuntimeError("boom")


def test_hooks_that_raise_or_return_junk_are_reported_not_fatal():
    _, registry = build_registry([(_WrongType(), PluginInfo("junk", "ganzoo-junk", "0.1"))])
    messages = [str(problem) for problem in registry.problems]
    assert any("junk" in m and "must return a list of LossSpec" in m for m in messages)
    assert any("junk" in m and "raised RuntimeError: boom" in m for m in messages)
    assert "mlp" in registry.names("variant")


def _install_fake_distribution(site: Path, name: str, module_source: str) -> None:
    """A real distribution on sys.path: dist-info with an entry point in group 'ganzoo'."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    dist_info = site / f"{name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[ganzoo]\n{name} = {name}\n")


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_load(tmp_path, monkeypatch):
    _install_fake_distribution(tmp_path, "broken_on_import", "raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _, registry = build_registry()
    problem = next(p for p in registry.problems if p.plugin.name == "broken_on_import")
    assert "failed to import" in problem.message and "needs libfoo" in problem.message
    assert "mlp" in registry.names("variant")

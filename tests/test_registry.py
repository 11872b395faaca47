"""The registry discovers plugins through real entry points and contains broken ones."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pytest
from ganzoo_mlp.models import MLPDiscriminator, MLPGenerator, MLPOptions

from ganzoo.builtin.losses import NonSaturatingLoss
from ganzoo.core import hookspecs
from ganzoo.core.registry import KINDS, PluginInfo, build_registry
from ganzoo.errors import UnknownNameError
from ganzoo.plugin import LossSpec, VariantSpec, hookimpl


def test_builtin_plugins_arrive_through_entry_points(registry):
    mlp = registry.get("variant", "mlp")
    assert mlp.plugin.distribution == "ganzoo-mlp" and mlp.plugin.name == "mlp"
    assert registry.get("loss", "non-saturating").plugin.distribution == "ganzoo"
    assert {"minimax", "non-saturating"} <= set(registry.names("loss"))
    assert "alternating" in registry.names("strategy")
    assert {"mnist-embedded", "mnist", "image-folder"} <= set(registry.names("dataset"))


def test_every_hook_is_one_kind_and_every_kind_has_a_typed_accessor(registry):
    """The kind table holds every hookspec once; each kind has ``registry.<kind>(name)`` that
    returns its spec (of the table's type) and refuses an unknown name like ``get``."""
    specs = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("ganzoo_")}
    assert sorted(kind.hook_name for kind in KINDS.values()) == sorted(specs)
    for kind, entry in KINDS.items():
        name = registry.names(kind)[0]
        spec = getattr(registry, kind)(name)
        assert isinstance(spec, entry.spec_type) and spec is registry.get(kind, name).spec
        with pytest.raises(UnknownNameError, match=f"unknown {kind} 'no-such-name'"):
            getattr(registry, kind)("no-such-name")


def test_unknown_name_suggests_the_closest(registry):
    with pytest.raises(UnknownNameError, match=r"unknown variant 'mpl'; did you mean 'mlp'\?"):
        registry.variant("mpl")


class _Impostor:
    """A second plugin claiming the name 'mlp'."""

    @hookimpl
    def ganzoo_register_variants(self):
        return [VariantSpec("mlp", MLPGenerator, MLPDiscriminator, MLPOptions, "impostor")]


def test_a_taken_name_stays_with_its_first_plugin_and_the_newcomer_is_reported():
    _, registry = build_registry([(_Impostor(), PluginInfo("impostor", "ganzoo-impostor", "9.9"))])
    assert registry.get("variant", "mlp").plugin.distribution == "ganzoo-mlp"
    assert registry.variant("mlp").description != "impostor"
    problem = next(p for p in registry.problems if p.plugin.name == "impostor")
    assert "variant 'mlp' is already provided by ganzoo-mlp 0.1.0" in str(problem)
    assert "rename it in ganzoo-impostor or uninstall ganzoo-impostor" in str(problem)
    with pytest.raises(UnknownNameError) as caught:  # an ignored duplicate hides no name, so it is not blamed
        registry.variant("nope")
    assert "impostor" not in str(caught.value)


def test_weights_of_a_builtin_variant_load_beside_a_duplicate(tmp_path):
    from ganzoo.generators.weights import load_generator, save_generator

    _, registry = build_registry([(_Impostor(), PluginInfo("impostor", "ganzoo-impostor", "9.9"))])
    variant = registry.get("variant", "mlp")
    options = MLPOptions(latent_dim=8, generator_widths=[16], discriminator_widths=[16])
    generator = variant.spec.build_generator(options, (1, 8, 8), None)
    save_generator(generator, tmp_path / "g.safetensors", variant="mlp", model_config=options.model_dump(mode="json"),
                   plugin=variant.plugin)
    loaded = load_generator(tmp_path / "g.safetensors", device="cpu", registry=registry)
    assert isinstance(loaded, MLPGenerator) and loaded.sample(2, seed=0).shape == (2, 1, 8, 8)


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


TAKES_MLP_FIRST = """
    from ganzoo.plugin import VariantSpec, hookimpl

    @hookimpl(trylast=True)  # pluggy would call this one first; registration order still decides
    def ganzoo_register_variants():
        return [VariantSpec("mlp", None, None, description="{name}"),
                VariantSpec("shared", None, None, description="{name}")]
"""


def test_builtins_register_first_then_plugins_by_distribution_name(tmp_path, monkeypatch):
    for name in ("zz_dup", "aa_dup"):  # aa_dup sorts before ganzoo-mlp, yet built-ins come first
        _install_fake_distribution(tmp_path, name, TAKES_MLP_FIRST.format(name=name))
    monkeypatch.syspath_prepend(str(tmp_path))
    _, registry = build_registry()
    assert registry.get("variant", "mlp").plugin.distribution == "ganzoo-mlp"
    assert registry.variant("shared").description == "aa_dup"
    ignored = sorted((p.plugin.name, p.message.split(" is ")[0]) for p in registry.problems)
    assert ignored == [("aa_dup", "variant 'mlp'"), ("zz_dup", "variant 'mlp'"), ("zz_dup", "variant 'shared'")]


MISSPELT_HOOK = """
    from ganzoo.plugin import LossSpec, VariantSpec, hookimpl

    @hookimpl
    def ganzoo_register_variant():
        return [VariantSpec("typo-gan", None, None)]

    @hookimpl
    def ganzoo_register_losses():  # a good hook of a broken plugin contributes nothing either
        return [LossSpec("typo-loss", None)]
"""


def test_a_misspelt_hook_breaks_its_plugin_with_a_suggestion(tmp_path, monkeypatch):
    _install_fake_distribution(tmp_path, "misspelt_hook", MISSPELT_HOOK)
    monkeypatch.syspath_prepend(str(tmp_path))
    _, registry = build_registry()
    [problem] = [p for p in registry.problems if p.plugin.name == "misspelt_hook"]
    assert "unknown hook 'ganzoo_register_variant' (did you mean 'ganzoo_register_variants'?)" in str(problem)
    assert "typo-loss" not in registry.names("loss") and "mlp" in registry.names("variant")
    with pytest.raises(UnknownNameError, match="plugins that failed to load: 'misspelt_hook'"):
        registry.variant("typo-gan")


class _Undecorated:
    def ganzoo_register_variants(self):  # forgot @hookimpl
        return [VariantSpec("forgotten", None, None)]


class _UndecoratedTypo:
    def ganzoo_register_lossses(self):
        return []


class _OptionalHook:
    @hookimpl(optionalhook=True)
    def ganzoo_register_samplers(self):  # a hook of some later ganzoo, declared optional
        return []

    @hookimpl
    def ganzoo_register_losses(self):
        return [LossSpec("optional-ok", NonSaturatingLoss)]


@pytest.mark.parametrize(("plugin", "message"), [
    (_Undecorated(), "ganzoo_register_variants is not marked with @hookimpl; decorate it with @hookimpl"),
    (_UndecoratedTypo(), "unknown hook 'ganzoo_register_lossses' (did you mean 'ganzoo_register_losses'?)"),
])
def test_a_hook_pluggy_would_silently_skip_is_reported(plugin, message):
    _, registry = build_registry([(plugin, PluginInfo("sloppy", "ganzoo-sloppy", "0.1"))])
    assert [message in str(p) for p in registry.problems] == [True]
    assert "forgotten" not in registry.names("variant")


def test_an_optional_hook_ganzoo_does_not_know_is_allowed():
    _, registry = build_registry([(_OptionalHook(), PluginInfo("later", "ganzoo-later", "0.1"))])
    assert not registry.problems and "optional-ok" in registry.names("loss")


@pytest.mark.parametrize(("kind", "known"), [("strategy", "known strategies"), ("loss", "known losses"),
                                             ("variant", "known variants"), ("augmentation", "known augmentations")])
def test_unknown_names_list_the_known_ones_in_plain_english(kind: str, known: str) -> None:
    from ganzoo.errors import UnknownNameError

    assert f"{known}: a, b" in str(UnknownNameError(kind, "zzzzzz", ["a", "b"]))

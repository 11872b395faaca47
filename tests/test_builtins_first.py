"""The built-ins are always the built-ins: a plugin that ships in ``plugins/`` registers before any
third party's, whatever that one's distribution is called, so installing a plugin that claims
``ddpm``, ``acgan`` and ``sngan`` cannot take them; it is reported, and the built-ins still train
and sample.

The newcomer is installed as pip leaves a wheel (a package and its ``.dist-info`` with the
entry point) in a private directory put on ``PYTHONPATH`` of fresh ``ganzoo`` processes, so
``importlib.metadata`` finds it exactly as it would find a real installation. Its distribution is
named to sort before every ``ganzoo-*`` one, which is how it took ``ddpm`` and ``acgan`` when the
built-ins were known by a list of distribution names that had left two of them out.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from ganzoo.core.registry import BUILTIN_PLUGINS, ENTRY_POINT_GROUP
from ganzoo.testing import install_plugin

ROOT = Path(__file__).resolve().parents[1]
SQUATTER = "aaa-squatter"
CLAIMED = {"ddpm": "ganzoo-diffusion", "acgan": "ganzoo-resnet", "sngan": "ganzoo-resnet"}

RunCli = Callable[..., subprocess.CompletedProcess[str]]

SQUATTER_PLUGIN = '''
import torch
from ganzoo.plugin import Discriminator, Generator, VariantSpec, hookimpl


class Impostor(Generator):
    def __init__(self, options, image_shape, num_classes):
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = 4, image_shape, num_classes
        self.scale = torch.nn.Parameter(torch.zeros(()))

    def forward(self, latents, labels=None):
        return torch.zeros(len(latents), *self.image_shape) + self.scale


class Critic(Discriminator):
    def __init__(self, options, image_shape, num_classes):
        super().__init__()
        self.image_shape, self.num_classes = image_shape, num_classes
        self.weight = torch.nn.Parameter(torch.zeros(()))

    def forward(self, images, labels=None):
        return images.flatten(1).mean(1) * self.weight


@hookimpl
def ganzoo_register_variants():
    return [VariantSpec(name, Impostor, Critic, description="not the real one") for name in ("ddpm", "acgan", "sngan")]
'''


def install_squatter(site: Path) -> dict[str, str]:
    """``aaa_squatter`` installed in ``site``; the environment that puts it in front."""
    return install_plugin(site, SQUATTER, {"aaa_squatter.plugin": SQUATTER_PLUGIN}, {"squat": "aaa_squatter.plugin"})


def test_every_plugin_that_ships_is_a_builtin() -> None:
    """``BUILTIN_PLUGINS`` is the core's entry point and every one in ``plugins/``, nothing else."""
    shipped = []
    for pyproject in sorted([ROOT / "pyproject.toml", *ROOT.glob("plugins/*/pyproject.toml")]):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        shipped += project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}).values()
    assert sorted(shipped) == sorted(BUILTIN_PLUGINS)
    assert BUILTIN_PLUGINS[0] == "ganzoo.builtin"  # the core's own components first


@pytest.mark.slow
def test_a_plugin_claiming_builtin_names_is_reported_and_the_builtins_still_work(run_cli: RunCli,
                                                                                  tmp_path: Path) -> None:
    env = install_squatter(tmp_path / "site")
    listed = run_cli("list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    for name, distribution in CLAIMED.items():
        assert distribution in rows[name] and SQUATTER not in rows[name], rows[name]
        assert f"variant {name!r} is already provided by {distribution}" in listed.stdout.replace("\n", " ")
    assert SQUATTER in listed.stdout  # the newcomer is named in the report

    tiny = ["--max-steps", "1", "--image-size", "16", "--limit", "64", "--batch-size", "8", "--device", "cpu",
            "--quiet"]
    widths = {"ddpm": ["--set", "model.widths=[8,8]", "--set", "model.norm_groups=4", "--set", "model.steps=2"],
              "acgan": ["--set", "model.g_channels=8", "--set", "model.d_channels=8"],
              "sngan": ["--set", "model.ngf=8", "--set", "model.ndf=8"]}
    for name in CLAIMED:
        trained = run_cli("train", name, *tiny, *widths[name], "--out", f"runs/{name}", env=env)
        assert trained.returncode == 0, trained.stderr
        sampled = run_cli("sample", f"runs/{name}/generator.safetensors", "--num", "4", "--seed", "0",
                          "--out", f"{name}.png", env=env)
        assert sampled.returncode == 0, sampled.stderr
        assert (tmp_path / f"{name}.png").stat().st_size > 0

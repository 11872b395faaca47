"""The truncation trick, one definition everywhere: exactly the latent entries outside the
threshold are redrawn (inside the threshold), from the seeded generator; ``Generator.sample``,
``ganzoo sample --truncation`` and the evaluation protocol use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo.core.sampling import seeded_inputs, truncate_latents, truncation_threshold
from ganzoo.errors import ConfigError


def test_the_threshold_holds_psi_of_the_mass() -> None:
    assert truncation_threshold(0.5) == pytest.approx(0.6744897501960817)
    assert truncation_threshold(0.7) == pytest.approx(1.0364333894937898)
    latents = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    assert float((latents.abs() <= truncation_threshold(0.7)).float().mean()) == pytest.approx(0.7, abs=0.005)


def test_exactly_the_entries_outside_the_threshold_change() -> None:
    latents = torch.randn(500, 64, generator=torch.Generator().manual_seed(1))
    psi = 0.7
    bound = truncation_threshold(psi)
    truncated = truncate_latents(latents, psi, generator=torch.Generator().manual_seed(2))
    outside = latents.abs() > bound
    assert torch.equal(truncated[~outside], latents[~outside])  # bit for bit
    assert bool((truncated[outside] != latents[outside]).all())
    assert float(truncated.abs().max()) <= bound + 1e-6
    again = truncate_latents(latents, psi, generator=torch.Generator().manual_seed(2))
    assert torch.equal(again, truncated)  # seeded: the same redraws
    redrawn = truncated[outside].double()
    # the redraws follow N(0, 1) truncated to [-t, t]: mean 0, variance 1 - 2 t phi(t) / psi
    phi = torch.exp(torch.tensor(-bound ** 2 / 2, dtype=torch.float64)) / (2 * torch.pi) ** 0.5
    assert float(redrawn.mean()) == pytest.approx(0.0, abs=0.02)
    assert float(redrawn.var()) == pytest.approx(float(1 - 2 * bound * phi / psi), abs=0.01)


def test_psi_one_is_no_truncation_and_out_of_range_is_refused() -> None:
    latents = torch.randn(4, 8)
    assert truncate_latents(latents, 1.0) is latents
    for psi in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="truncation must lie in"):
            truncate_latents(latents, psi)


def test_sample_truncates_the_same_latents_its_seed_draws(tiny_config: Any) -> None:
    from ganzoo.generators.weights import load_generator
    from ganzoo.training.loop import train

    result = train(tiny_config("mlp", run={"max_steps": 2, "sample_every_epochs": 0}))
    generator = load_generator(result.generator_path, device="cpu")
    plain, _ = seeded_inputs(generator, 16, seed=3)
    truncated, _ = seeded_inputs(generator, 16, seed=3, truncation=0.5)
    inside = plain.abs() <= truncation_threshold(0.5)
    assert torch.equal(truncated[inside], plain[inside]) and not torch.equal(truncated, plain)
    assert torch.equal(generator.sample(16, seed=3, truncation=0.5), generator.sample(16, latents=truncated))
    assert torch.equal(generator.sample(16, seed=3, truncation=1.0), generator.sample(16, seed=3))


def test_cli_sample_with_truncation(tiny_config: Any, run_cli: Any, tmp_path: Path) -> None:
    from ganzoo.training.loop import train

    result = train(tiny_config("mlp", run={"max_steps": 2, "sample_every_epochs": 0}))
    out = tmp_path / "truncated.png"
    done = run_cli("sample", str(result.generator_path), "--num", "8", "--truncation", "0.7", "--out", str(out))
    assert done.returncode == 0 and out.exists(), done.stderr
    refused = run_cli("sample", str(result.generator_path), "--truncation", "0", "--out", str(out))
    assert refused.returncode == 2 and "--truncation must lie in (0, 1]" in refused.stderr


def test_the_evaluation_protocol_records_truncation(tiny_config: Any) -> None:
    from ganzoo.generators.weights import load_generator
    from ganzoo.metrics.evaluate import evaluate, generate_uint8
    from ganzoo.training.loop import train

    result = train(tiny_config("mlp", run={"max_steps": 2, "sample_every_epochs": 0}))
    generator = load_generator(result.generator_path, device="cpu")
    plain, _ = generate_uint8(generator, 32, seed=0)
    truncated, _ = generate_uint8(generator, 32, seed=0, truncation=0.5)
    assert not torch.equal(plain, truncated)
    kwargs = dict(metrics="fid", backbones="mnist-classifier", num_samples=100, num_real=100, baseline=False)
    assert "truncation" not in evaluate(generator, **kwargs).protocol
    assert evaluate(generator, truncation=0.7, **kwargs).protocol["truncation"] == 0.7

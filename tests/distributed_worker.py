"""A few real training steps of a variant, run alone or by torchrun (one copy per rank).

``python tests/distributed_worker.py OUT BATCH STEPS [CONFIG]`` trains on one process with batch
BATCH; ``torchrun --nproc_per_node=2 tests/distributed_worker.py OUT BATCH STEPS [CONFIG]`` trains
with DDP, BATCH per rank. After every step each rank saves every weight of every player (G, and
D for a GAN) to OUT/rank-R.pt, so the test can compare ranks with each other and with the single
process step by step. CONFIG, a JSON file of a run's configuration, defaults to ``MLP_GAN``;
plugins/diffusion/tests/test_ddpm_distributed.py passes a tiny ddpm. Everything is built by
ganzoo's own ``build``, as the run loop builds it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from ganzoo.core.registry import get_registry
from ganzoo.data.dataset import epoch_order
from ganzoo.runtime.distributed import session
from ganzoo.runtime.precision import Precision
from ganzoo.training.build import build
from ganzoo.training.loop import seed_everything
from ganzoo.training.plan import make_plan

MLP_GAN: dict[str, Any] = {
    "variant": "mlp", "model": {"batch_norm": False, "generator_widths": [32, 64], "discriminator_widths": [64, 32]},
    "data": {"name": "mnist-embedded", "image_size": 8, "limit": 256},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "run": {"device": "cpu", "seed": 3},
}
"""No BatchNorm (on CPU each rank would normalise its own half-batch) and plain SGD, whose step,
unlike Adam's, is proportional to the gradient: a gradient summed instead of averaged over ranks
would show."""


def assert_ranks_agree_with_one_process(rank0: list[dict[str, torch.Tensor]], rank1: list[dict[str, torch.Tensor]],
                                        reference: list[dict[str, torch.Tensor]]) -> None:
    """The checks every DDP test makes of the snapshots: after each step both ranks hold the same
    finite weights, close to the single process's with the whole batch, and training moved them."""
    start = reference[0]
    for step, (a, b, ref) in enumerate(zip(rank0, rank1, reference), start=1):
        assert a.keys() == b.keys() == ref.keys()
        for name in ref:
            assert torch.isfinite(a[name]).all(), f"{name} is not finite after step {step}"
            assert torch.equal(a[name], b[name]), f"ranks differ in {name} after step {step}"
            torch.testing.assert_close(a[name], ref[name], atol=1e-5, rtol=1e-4,
                                       msg=lambda m, name=name, step=step: f"{name} after step {step}: {m}")
    moved = max((reference[-1][name] - start[name]).abs().max().item() for name in start)
    assert moved > 1e-3  # the comparison is meaningful: training moved the weights


def snapshot(*modules: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{index}.{name}": value.detach().clone()
            for index, module in enumerate(modules) for name, value in module.state_dict().items()}


def main(out: Path, batch_size: int, steps: int, config: dict[str, Any] = MLP_GAN) -> None:
    plan = make_plan([config, {"run": {"batch_size": batch_size}}], get_registry())
    seed = plan.config.run.seed
    device = torch.device("cpu")
    with session("cpu") as cluster:
        seed_everything(seed)
        parts = build(plan, device)
        players = [player.module for player in parts.players]
        precision = Precision(device, "fp32")
        precision.attach(**{player.key: player.optimizer for player in parts.players})
        game = parts.new_game(lambda module: cluster.wrap(module, device), autocast=precision.autocast,
                              optimize=precision.optimize, draw=cluster.draw)
        order = cluster.shard(epoch_order(len(parts.dataset), seed=seed, epoch=0), batch_size)
        history = []
        for step in range(steps):
            batch = parts.dataset.batch(order[step * batch_size:(step + 1) * batch_size])
            parts.strategy.step(game, [batch])
            history.append(snapshot(*players))
        torch.save(history, out / f"rank-{cluster.rank}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
         *([json.loads(Path(sys.argv[4]).read_text())] if len(sys.argv) > 4 else []))

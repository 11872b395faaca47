"""A few real training steps of the MLP GAN, run alone or by torchrun (one copy per rank).

``python tests/distributed_worker.py OUT BATCH STEPS`` trains on one process with batch BATCH;
``torchrun --nproc_per_node=2 tests/distributed_worker.py OUT BATCH STEPS`` trains with DDP,
BATCH per rank. After every step each rank saves every weight of G and D to OUT/rank-R.pt, so
the test can compare ranks with each other and with the single process step by step.
Everything is built by ganzoo's own ``build``, as the run loop builds it. The MLP has no
BatchNorm (on CPU each rank would normalise its own half-batch) and trains with plain SGD,
whose step, unlike Adam's, is proportional to the gradient: a gradient summed instead of
averaged over ranks would show.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganzoo.build import build
from ganzoo.data import epoch_order
from ganzoo.distributed import session
from ganzoo.plan import make_plan
from ganzoo.precision import Precision
from ganzoo.registry import get_registry
from ganzoo.training.loop import seed_everything


def snapshot(*modules: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{index}.{name}": value.detach().clone()
            for index, module in enumerate(modules) for name, value in module.state_dict().items()}


def main(out: Path, batch_size: int, steps: int) -> None:
    registry = get_registry()
    plan = make_plan([{
        "variant": "mlp", "model": {"batch_norm": False, "generator_widths": [32, 64],
                                    "discriminator_widths": [64, 32]},
        "data": {"name": "mnist-embedded", "image_size": 8, "limit": 256},
        "optimizer": {"name": "sgd", "lr": 0.05},
        "run": {"device": "cpu", "batch_size": batch_size, "seed": 3},
    }], registry)
    config = plan.config
    device = torch.device("cpu")
    with session("cpu") as cluster:
        seed_everything(config.run.seed)
        parts = build(plan, device)
        dataset, generator, discriminator = parts.dataset, parts.generator, parts.adversary.discriminator
        precision = Precision(device, "fp32")
        precision.attach(**{player.key: player.optimizer for player in parts.players})
        strategy = parts.strategy
        game = parts.new_game(lambda module: cluster.wrap(module, device), autocast=precision.autocast,
                              optimize=precision.optimize, draw=cluster.draw)
        order = cluster.shard(epoch_order(len(dataset), seed=config.run.seed, epoch=0), batch_size)
        history = []
        for step in range(steps):
            batch = dataset.batch(order[step * batch_size:(step + 1) * batch_size])
            strategy.step(game, [batch])
            history.append(snapshot(generator, discriminator))
        torch.save(history, out / f"rank-{cluster.rank}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))

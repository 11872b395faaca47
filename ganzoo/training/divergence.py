"""Catching a diverged GAN at the step it happens, and what the run does then.

GANs diverge: a learning rate too high, fp16/bf16 overflow or a penalty weight out of range
turns a loss or a gradient into NaN/Inf, and every step after that is wasted. The engine
records, on the device, the first step whose losses or gradients were not finite
(``StatTracker``), so nothing forces a host sync per step on a GPU; the host reads that record
when it logs or checkpoints anyway (every step on the CPU, where reading is free).

What happens next is ``run.on_divergence``:

* ``stop`` (default): raise ``DivergenceError``, one line naming the step and the likely causes.
* ``rollback``: reload the last good checkpoint (a checkpoint is never written from a diverged
  state), halve both learning rates and continue, at most ``run.max_rollbacks`` times.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ganzoo.core.contracts import count_nonfinite_images
from ganzoo.core.interfaces import Generator
from ganzoo.errors import DivergenceError

LR_FACTOR_ON_ROLLBACK = 0.5


def gradients_finite(modules: Iterable[nn.Module], precision_mode: str) -> Tensor | None:
    """A 0-dim bool tensor on the device saying whether every current gradient is finite.

    No host sync. On accelerators one fused max-abs reduction (``_foreach_norm``). On the CPU
    the max-abs reduction is about ten times slower than a sum (over 10% of an MLP GAN step),
    so each gradient is summed instead: a sum is NaN/Inf whenever an element is, and a sum of
    finite fp32 gradients overflows only if they are near 1e38, which is divergence anyway.
    ``None`` under fp16, where the GradScaler expects (and skips) overflowing steps while it
    finds its loss scale.
    """
    if precision_mode == "fp16":
        return None
    grads = [p.grad for module in modules for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    if grads[0].device.type == "cpu":
        return torch.isfinite(torch.stack([grad.sum() for grad in grads])).all()
    return torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=float("inf")))


def divergence_error(step: int, precision_mode: str, lr: float, rollbacks: int = 0, *,
                     what: str = "a loss or gradient became NaN/Inf") -> DivergenceError:
    """The one-line explanation: which step, and what usually causes it."""
    causes = [f"a learning rate too high (lr {lr:g}: try --lr {lr / 4:g})"]
    if precision_mode != "fp32":
        causes.append(f"mixed precision overflow (running {precision_mode}: try --precision fp32)")
    causes.append("a gradient penalty or clipping setting out of range")
    tried = (f" after {rollbacks} rollback{'s' if rollbacks != 1 else ''} that halved the learning rate"
             if rollbacks else "")
    hint = "" if rollbacks else "; or set run.on_divergence=rollback to retry from the last checkpoint"
    error = DivergenceError(f"training diverged at step {step}{tried}: {what}; "
                            f"likely causes: {', '.join(causes)}{hint}")
    error.step = step
    return error


PROBE_LATENTS = 8


def generator_output_finite(generator: Generator) -> bool:
    """Whether ``generator`` makes finite images from a few fixed latents in eval mode (how it
    samples), without touching its weights, buffers, mode or the run's RNG."""
    rng = torch.Generator().manual_seed(0)
    latents = generator.sample_latents(PROBE_LATENTS, generator=rng, device="cpu")
    labels = generator.sample_labels(PROBE_LATENTS, generator=rng, device="cpu")
    return count_nonfinite_images(generator.sample(PROBE_LATENTS, latents=latents, labels=labels)) == 0


def learning_rates(optimizers: Iterable[torch.optim.Optimizer]) -> list[list[float]]:
    """Every parameter group's lr, taken before a rollback reloads the checkpoint's."""
    return [[float(group["lr"]) for group in optimizer.param_groups] for optimizer in optimizers]


def set_learning_rates(optimizers: Iterable[torch.optim.Optimizer], rates: list[list[float]],
                       factor: float) -> float:
    """Set each group's lr to ``factor`` x its rate in ``rates``; returns the first new lr.

    Scaling the rates from before the reload makes repeated rollbacks compound (1/2, 1/4, ...).
    The lr lives in the optimiser's state, so later checkpoints carry it and a resumed run keeps it.
    """
    for optimizer, group_rates in zip(optimizers, rates, strict=True):
        for group, rate in zip(optimizer.param_groups, group_rates, strict=True):
            group["lr"] = rate * factor
    return rates[0][0] * factor

"""Multi-process training on torch.distributed: start-up, ranks, DDP wrapping, data sharding.

``torchrun --nproc_per_node=N -m ganzoo train ...`` starts N copies of the CLI; ``session()``
joins them into one process group (gloo on CPU, NCCL on CUDA) and hands the engine a
``Cluster``. The engine asks the cluster for three things only: which slice of the epoch order
this rank trains on (``shard``), the DDP wrapping of every trained network (``wrap``: G and D
of a GAN, the generator's ``training_network`` of a variant without a discriminator, such as
ddpm's denoiser), and agreement on when to stop (``any``). Everything that writes files or the
display runs on rank 0 (``is_main``).

Every rank starts from the same seed and its random number generators stay in lock-step: the
wrapped generator draws the latents of the whole global batch and keeps its rank's share, as
``Cluster.draw`` does for the noise and timesteps of a denoising step. So N ranks with batch B
train on exactly the data and noise one process with batch N*B would see, and rank 0's
checkpoint (one set of RNG states) restores every rank on resume.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ganzoo.errors import ConfigError
from ganzoo.runtime.devices import resolve_device

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Cluster:
    """This process's place among the ranks; the default is one process on its own."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    control: Any = None  # a gloo group for host-side flags, so agreeing never waits on the GPU

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, sample grids, the metrics log and the display."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    def local_device(self, device: torch.device) -> torch.device:
        """Under DDP on CUDA each rank owns the GPU ``cuda:LOCAL_RANK``."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def shard(self, order: Tensor, batch_size: int) -> Tensor:
        """This rank's part of one epoch's order, batch by batch.

        Global batch j is ``order[j*N*B:(j+1)*N*B]``; rank r trains on its r-th block of B. The
        tail that does not fill a global batch is dropped, as a single process drops it.
        """
        if self.world_size == 1:
            return order
        global_batch = batch_size * self.world_size
        usable = len(order) // global_batch * global_batch
        return order[:usable].view(-1, self.world_size, batch_size)[:, self.rank].reshape(-1)

    def describe(self, batch_size: int, g_lr: float, d_lr: float) -> str:
        """The effective batch and learning rates, as the run reports them at the start."""
        lr = f"lr {g_lr:g}" if g_lr == d_lr else f"lr G {g_lr:g} / D {d_lr:g}"
        return (f"DDP over {self.world_size} processes ({self.backend}): global batch "
                f"{batch_size * self.world_size} = {batch_size} per rank x {self.world_size}; {lr} applies to the "
                "global batch (gradients are averaged over ranks, the lr is not rescaled)")

    def draw(self, sampler: Callable[[int], Tensor], n: int) -> Tensor:
        """``n`` random values for this rank: ``sampler(n * world_size)``, this rank's share of it,
        so every rank's RNG stays in lock-step (``SoloGame.draw``)."""
        if self.world_size == 1:
            return sampler(n)
        return sampler(n * self.world_size)[self.rank * n:(self.rank + 1) * n]

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any rank (a stop request, a spent time budget)."""
        if not self.distributed:
            return flag
        value = torch.tensor([int(flag)])
        dist.all_reduce(value, op=dist.ReduceOp.MAX, group=self.control)
        return bool(value.item())

    def all_sum(self, value: Tensor) -> Tensor:
        """``value`` added up over every rank (a copy; itself on one process)."""
        if not self.distributed:
            return value
        total = value.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def wrap(self, module: nn.Module, device: torch.device, *, sync_batchnorm: bool = False) -> nn.Module:
        """``module`` inside DistributedDataParallel (and SyncBatchNorm), or as is on one process."""
        if not self.distributed:
            return module
        if sync_batchnorm:
            if device.type != "cuda":
                raise ConfigError("run.sync_batchnorm needs CUDA (torch's SyncBatchNorm is GPU-only); "
                                  "drop it on CPU, where each rank normalises its own batch")
            nn.SyncBatchNorm.convert_sync_batchnorm(module)
        device_ids = [device.index] if device.type == "cuda" else None
        return GanzooDDP(module, self, device_ids=device_ids)


class GanzooDDP(DistributedDataParallel):
    """DDP that behaves like the module it wraps inside a GAN step.

    * Attributes DDP does not have (``latent_dim``, ``num_classes``, ...) come from the module,
      as they do through ``torch.compile``'s wrapper.
    * ``sample_latents``/``sample_labels`` draw the global batch's worth and return this rank's
      share, which keeps every rank's RNG in lock-step (see the module docstring).

    The GAN step calls the wrapped modules in ways plain DDP handles correctly, checked by
    tests/test_distributed.py against a single process: D twice (real, fake) before one backward
    (each parameter's gradient hook fires once per backward); G's forward in the D step, whose
    output is detached (no hook fires, nothing is reduced); and D frozen in the G step (its
    parameters want no gradient, so only G's are all-reduced). A variant without a discriminator
    has one wrapped network, called once per step, which is DDP's ordinary case
    (plugins/diffusion/tests/test_ddpm_distributed.py). Buffers (BatchNorm statistics) are
    rank 0's, broadcast at each forward.
    """

    def __init__(self, module: nn.Module, cluster: Cluster, **kwargs: Any) -> None:
        super().__init__(module, **kwargs)
        self._cluster = cluster

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)

    def sample_latents(self, n: int, **kwargs: Any) -> Tensor:
        return self._cluster.draw(lambda count: self.module.sample_latents(count, **kwargs), n)

    def sample_labels(self, n: int, **kwargs: Any) -> Tensor | None:
        if self.module.num_classes is None:
            return None
        return self._cluster.draw(lambda count: self.module.sample_labels(count, **kwargs), n)


def launched_by_torchrun() -> bool:
    """True inside a process that torchrun (``torch.distributed.run``) started."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


@contextmanager
def session(device_request: str = "auto", timeout_s: float = 1800) -> Iterator[Cluster]:
    """Join the process group torchrun set up (or yield a single-process cluster) and leave it.

    The backend follows the device: NCCL for CUDA, gloo otherwise. ``timeout_s`` bounds how long
    a rank waits for the others in one collective before failing instead of hanging.
    """
    if not launched_by_torchrun():
        yield Cluster()
        return
    rank, local_rank, world_size = (int(os.environ[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    device = resolve_device(device_request)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                              "use --nproc_per_node at most the number of GPUs")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s),
                            **({"device_id": torch.device("cuda", local_rank)} if backend == "nccl" else {}))
    try:
        control = dist.new_group(backend="gloo") if backend != "gloo" else None
        yield Cluster(rank, local_rank, world_size, backend, control)
    finally:
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """``ganzoo ARGV --nproc N``: run ``torchrun --standalone --nproc_per_node=N -m ganzoo ARGV``.

    Runs torchrun's own launcher in this process (one machine, a free port picked by its c10d
    rendezvous) and returns the first failed rank's exit code, or 0.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1 (got {nproc})")
    try:
        run(parse_args(["--standalone", f"--nproc_per_node={nproc}", "-m", "ganzoo", *without_nproc(argv)]))
    except ChildFailedError as failed:
        codes = [failure.exitcode for failure in failed.failures.values()]
        return next((code for code in codes if code and code > 0), 1)
    return 0


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` minus ``--nproc N`` / ``--nproc=N``, for the processes torchrun starts."""
    kept: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            kept.append(item)
    return kept

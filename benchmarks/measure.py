"""What the step benchmarks time: the ganzoo engine, the plain tutorial loop, and the hardware.

All loops of one workload run together, taking turns step by step (``take_turns``), and are
timed the same way: a clock reads ``perf_counter`` as steps complete after step ``warmup``
(see ``TurnClock``), so set-up, warm-up and compilation are outside the window and each side
pays exactly its per-step costs. The engine is the real ``ganzoo.training.loop.train``; the
clock is one of its callbacks.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from ganzoo.core.callback import Callback
from ganzoo.core.registry import Registry, get_registry
from ganzoo.generators.weights import save_generator
from ganzoo.runtime.devices import hardware_name, resolve_device
from ganzoo.runtime.speed import bf16_pays, fast_path
from ganzoo.training.build import build, build_models, load_dataset
from ganzoo.training.loop import seed_everything, train
from ganzoo.training.plan import RunPlan, make_plan


@dataclass(frozen=True)
class Settings:
    """Where and how hard to measure: ``GANZOO_BENCH_DEVICE`` (cpu, cuda, ...),
    ``GANZOO_BENCH_THREADS`` (torch CPU threads; default torch's own) and ``GANZOO_BENCH_SMOKE=1``
    for one tiny round of everything (the test that keeps this code alive)."""

    device: str
    smoke: bool
    threads: int | None = None

    @classmethod
    def from_environment(cls) -> Settings:
        threads = os.environ.get("GANZOO_BENCH_THREADS")
        return cls(os.environ.get("GANZOO_BENCH_DEVICE", "cpu"), os.environ.get("GANZOO_BENCH_SMOKE") == "1",
                   int(threads) if threads else None)

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()


def machine_description(settings: Settings) -> dict[str, Any]:
    """What the numbers were measured on, recorded beside them."""
    return {"device_name": hardware_name(resolve_device(settings.device)), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()}


@dataclass(frozen=True)
class StepWorkload:
    """One model at one batch size, and how many steps to skip and to time."""

    variant: str
    image_size: int
    batch_size: int
    warmup: int
    steps: int

    @property
    def name(self) -> str:
        return f"{model_name(self.variant, self.image_size)}-b{self.batch_size}"


def model_name(variant: str, image_size: int) -> str:
    """``mlp-32``, ``dcgan-32``, ``dcgan-64`` (a variant already named for its size keeps its name)."""
    return variant if variant.endswith(f"-{image_size}") else f"{variant}-{image_size}"


def write_generator(variant: str, image_size: int, path: Path, model: dict[str, Any] | None = None) -> Path:
    """A generator file of a freshly built ``variant`` (``model`` options over its defaults),
    written by ganzoo's own ``save_generator``: sampling speed does not depend on what weights learnt."""
    registry = get_registry()
    layer = {"variant": variant, "data": {"image_size": image_size, "limit": 16}, "model": model or {}}
    plan = make_plan([layer], registry)
    generator, _ = build_models(plan.variant, load_dataset(plan.config.data, registry=registry))
    save_generator(generator, path, variant=variant, model_config=plan.to_dict()["model"],
                   plugin=registry.get("variant", variant).plugin)
    return path


def speed_options(device: str, *, compile: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """ganzoo's speed switches in the order the benchmarks add them, each as a config layer.

    bf16 autocast where ``run.speed`` takes it for the DCGAN family on this device (CUDA with
    bf16; a CPU only where the table's row says so, after the training-health check), channels_last,
    multi-tensor Adam (fused on CUDA, foreach on the CPU), torch.compile. Data already lives on the
    device as uint8 in every engine run. The smoke test leaves compilation out: it costs a minute
    on a small CPU and is the engine's to test.
    """
    cuda = device.startswith("cuda")
    options: list[tuple[str, dict[str, Any]]] = []
    torch_device = resolve_device(device)
    if bf16_pays(fast_path(torch_device, "dcgan"), torch_device):
        options.append(("bf16", {"run": {"precision": "bf16"}}))
    options.append(("channels_last", {"run": {"channels_last": True}}))
    options.append(("fused" if cuda else "foreach", {"optimizer": {"implementation": "fused" if cuda else "foreach"}}))
    if compile:
        options.append(("compile", {"run": {"compile": "default"}}))
    return options


def workload_config(work: StepWorkload, settings: Settings, out_dir: Path, *extra: dict[str, Any],
                    registry: Registry | None = None) -> RunPlan:
    """The engine config both loops share: fp32, no grids or checkpoints inside the window."""
    base = {
        "variant": work.variant,
        "data": {"name": "mnist-embedded", "image_size": work.image_size,
                 "limit": work.batch_size * (work.warmup + work.steps + 1)},
        "run": {"out_dir": str(out_dir), "epochs": 1000, "max_steps": work.warmup + work.steps,
                "batch_size": work.batch_size, "device": settings.device, "precision": "fp32", "speed": "off",
                "sample_every_epochs": 0, "checkpoint_every_epochs": 0},
    }
    return make_plan([base, *extra], registry or get_registry())


class TakeTurns:
    """Loops in threads that run one training step each in turn, round robin.

    A shared machine's speed drifts by tens of percent over tens of seconds; loops measured one
    after the other compare those drifts as much as the loops. Taking turns step by step puts
    every loop's k-th step within one rotation, so a slow spell hits all of them, and only one
    loop computes at a time. Turns begin once every loop has finished its first step (set-up,
    compilation), and a loop that reaches its last step waits for the others before it goes on
    to its teardown, so no untimed work overlaps a timed step.
    """

    def __init__(self, names: list[str]) -> None:
        self.order, self.active = list(names), set(names)
        self.arrived: set[str] = set()
        self.done: set[str] = set()
        self.started = False
        self.turn: str | None = None
        self.condition = threading.Condition()

    def _following(self, name: str) -> str | None:
        """The next loop after ``name``, cyclically, that still has steps to run."""
        index = self.order.index(name)
        ring = self.order[index + 1:] + self.order[:index + 1]
        return next((other for other in ring if other in self.active and other not in self.done), None)

    def _moved(self, name: str) -> None:
        if not self.started and self.active <= self.arrived:
            self.started, self.turn = True, self._following(self.order[-1])
        elif self.turn == name:
            self.turn = self._following(name)
        self.condition.notify_all()

    def next_step(self, name: str) -> None:
        """``name`` finished a step; block until its next turn."""
        with self.condition:
            self.arrived.add(name)
            self._moved(name)
            self.condition.wait_for(lambda: self.turn == name)

    def finish(self, name: str) -> None:
        """``name`` finished its last step; block until every loop has."""
        with self.condition:
            self.arrived.add(name)
            self.done.add(name)
            self._moved(name)
            self.condition.wait_for(lambda: self.active <= self.done)

    def leave(self, name: str) -> None:
        """``name`` stopped (it ended, or failed): take it out of the rotation."""
        with self.condition:
            self.active.discard(name)
            self._moved(name)


class TurnClock(Callback):
    """A training callback that times one loop's steps and takes turns with the others.

    A step's time runs from getting the turn to the end of the next step (``on_step_end`` in
    the engine, ``step_done`` in the plain loop), so it holds everything the loop does per step
    (data, step, bookkeeping). Steps after ``first`` up to ``last`` count. The device is
    synchronised before each reading, which on an accelerator also stalls its queue between
    steps, for every loop alike.
    """

    def __init__(self, name: str, turns: TakeTurns, settings: Settings, first: int, last: int) -> None:
        self.name, self.turns, self.settings, self.first, self.last = name, turns, settings, first, last
        self.seconds: list[float] = []
        self._started = 0.0

    def on_step_end(self, run: Any, stats: Any) -> None:
        self.step_done(run.progress.global_step)

    def step_done(self, step: int) -> None:
        self.settings.sync()
        if step > self.first:
            self.seconds.append(time.perf_counter() - self._started)
        if step >= self.last:
            self.turns.finish(self.name)
            return
        self.turns.next_step(self.name)
        self._started = time.perf_counter()


Loop = Callable[[TurnClock], None]


def take_turns(loops: dict[str, Loop], settings: Settings, first: int, last: int) -> dict[str, list[float]]:
    """Run ``loops`` (each trains, updating the display it is given after every step) taking
    turns; returns each loop's seconds per step for steps ``first + 1`` to ``last``."""
    turns = TakeTurns(list(loops))
    clocks = {name: TurnClock(name, turns, settings, first, last) for name in loops}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            loops[name](clocks[name])
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread below
            errors.append(error)
        finally:
            turns.leave(name)

    threads = [threading.Thread(target=run, args=(name,), name=f"bench-{name}") for name in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return {name: clock.seconds for name, clock in clocks.items()}


def engine_loop(resolved: RunPlan) -> Loop:
    """The real engine, ``ganzoo.training.loop.train``, with the clock as a callback."""
    return lambda clock: train(resolved, callbacks=[clock], overwrite=True)


def plain_loop_of(resolved: RunPlan, settings: Settings) -> Loop:
    return lambda clock: plain_loop(resolved, resolved.config.run.max_steps or 0, settings, clock)


def plain_loop(resolved: RunPlan, total_steps: int, settings: Settings, clock: TurnClock | None) -> None:
    """The classic PyTorch GAN tutorial loop on the same models, loss and optimiser settings.

    As in the tutorial: float images in [-1, 1] in a ``TensorDataset``, a shuffling
    ``DataLoader``, ``BCEWithLogitsLoss``, Adam, zero_grad/backward/step written out and the
    losses read every 50 steps. One deviation, so that both loops do the same arithmetic: like
    ganzoo's alternating strategy, the generator step draws fresh latents and does not
    differentiate the discriminator's weights (the tutorial reuses the D-step fakes).
    """
    config, device = resolved.config, resolve_device(settings.device)
    seed_everything(config.run.seed)
    parts = build(resolved, device)
    dataset, generator, discriminator = parts.dataset, parts.generator, parts.adversary.discriminator
    optimizer = config.optimizer
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=optimizer.lr, betas=optimizer.betas)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=optimizer.lr, betas=optimizer.betas)
    criterion = nn.BCEWithLogitsLoss()
    loader = DataLoader(TensorDataset(dataset.images.float() / 127.5 - 1.0), batch_size=config.run.batch_size,
                        shuffle=True, drop_last=True)
    latent_dim, step = generator.latent_dim, 0
    while step < total_steps:
        for (real,) in loader:
            real = real.to(device)
            batch = real.size(0)
            ones = torch.ones(batch, device=device)
            zeros = torch.zeros(batch, device=device)
            d_optimizer.zero_grad()
            fake = generator(torch.randn(batch, latent_dim, device=device))
            d_loss = criterion(discriminator(real), ones) + criterion(discriminator(fake.detach()), zeros)
            d_loss.backward()
            d_optimizer.step()
            g_optimizer.zero_grad()
            discriminator.requires_grad_(False)
            g_loss = criterion(discriminator(generator(torch.randn(batch, latent_dim, device=device))), ones)
            g_loss.backward()
            g_optimizer.step()
            discriminator.requires_grad_(True)
            step += 1
            if step % 50 == 0:
                print(f"step {step}: D {d_loss.item():.3f} G {g_loss.item():.3f}", end="\r")
            if clock is not None:
                clock.step_done(step)
            if step == total_steps:
                break


def step_flops(resolved: RunPlan, settings: Settings, *, engine: bool) -> int:
    """Floating-point operations of one training step, counted by ``torch.utils.flop_counter``."""
    config = resolved.config.model_copy(update={"run": resolved.config.run.model_copy(update={"max_steps": 1})})
    with FlopCounterMode(display=False) as counter:
        if engine:
            train(replace(resolved, config=config), overwrite=True)
        else:
            plain_loop(resolved, 1, settings, None)
    return int(counter.get_total_flops())


def matmul_flops_per_second(settings: Settings, repeats: int = 8) -> float:
    """The fp32 ceiling: the best of ``repeats`` square ``torch.mm`` (2 n^3 FLOPs each) at two
    sizes, a cache-friendly one and a large one (BLAS libraries peak at different sizes)."""
    device = resolve_device(settings.device)
    sizes = (256, 512) if settings.smoke else ((4096, 8192) if device.type == "cuda" else (1024, 4096))
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        torch.mm(a, b)
        settings.sync()
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            settings.sync()
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best

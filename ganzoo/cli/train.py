"""``ganzoo train VARIANT``: build the config from defaults, file and flags, then train."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ganzoo.cli.arguments import seed
from ganzoo.cli.output import say
from ganzoo.config import assign_nested, load_config_file, merge_layers, parse_set_items
from ganzoo.errors import ConfigError
from ganzoo.runtime.distributed import launch, launched_by_torchrun, session
from ganzoo.training.display import ProgressDisplay
from ganzoo.training.loop import train
from ganzoo.training.outputs import format_stats
from ganzoo.training.plan import make_plan
from ganzoo.training.replacement import pending, settle
from ganzoo.training.runclaim import config_to_resume, refuse_foreign
from ganzoo.training.rundir import RunDirectory
from ganzoo.training.runlock import locked_run_directory

# flag -> dotted config key; values left as None are not set
FLAG_KEYS = {
    "dataset": "data.name", "data_root": "data.root", "download": "data.download",
    "image_size": "data.image_size", "limit": "data.limit",
    "loss": "loss.name", "strategy": "strategy.name", "lr": "optimizer.lr",
    "epochs": "run.epochs", "max_steps": "run.max_steps", "batch_size": "run.batch_size",
    "device": "run.device", "precision": "run.precision", "seed": "run.seed", "out": "run.out_dir",
    "speed": "run.speed", "channels_last": "run.channels_last", "compile": "run.compile", "sync_batchnorm": "run.sync_batchnorm",
}


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("train", parents=[common], help="train a variant",
                                   description="Train a GAN variant. Settings come from the variant's "
                                               "defaults, then --config, then flags and --set items.")
    parser.add_argument("variant", nargs="?", help="variant name (see `ganzoo list`)")
    parser.add_argument("--config", type=Path, help="TOML, YAML or JSON config file")
    parser.add_argument("--dataset", help="dataset name (default: mnist-embedded)")
    parser.add_argument("--data-root", type=Path, help="dataset directory (MNIST root or image folder)")
    parser.add_argument("--download", action="store_true", default=None, help="download MNIST if missing")
    parser.add_argument("--image-size", type=int, help="resize images to this square size")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--loss", help="loss name, e.g. non-saturating, minimax")
    parser.add_argument("--strategy", help="training strategy name, e.g. alternating")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--max-steps", type=int, help="stop after this many training steps")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--seed", type=seed)
    parser.add_argument("--out", type=Path, help="run directory (default: runs/VARIANT)")
    parser.add_argument("--speed", choices=["auto", "off"],
                        help="auto (default): the fastest measured options for this device and variant; "
                             "off: the plain fp32 path. Options given explicitly win either way")
    parser.add_argument("--channels-last", action="store_true", default=None, help="channels_last memory format")
    parser.add_argument("--compile", choices=["off", "default", "reduce-overhead", "max-autotune"],
                        help="torch.compile mode for G and D")
    parser.add_argument("--nproc", type=int, metavar="N",
                        help="train with DDP on N processes of this machine (torchrun; see docs/distributed.md)")
    parser.add_argument("--sync-batchnorm", action="store_true", default=None,
                        help="synchronise BatchNorm statistics across DDP ranks (CUDA)")
    parser.add_argument("--logger", "--callback", dest="callbacks", action="append", metavar="NAME",
                        help="add a registered callback by name, e.g. --logger tensorboard (repeatable; "
                             "metrics.jsonl is always written; see `ganzoo list`)")
    parser.add_argument("--set", dest="set_items", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config value, e.g. --set loss.options.real_label=0.9 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint; with none yet, start it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the ganzoo run in --out: only the files a run writes, and only once the new "
                             "run has its first checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress display; print only the result")
    parser.set_defaults(handler=run)


def flag_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The flags as a config layer, then the ``--set`` items over them.

    argparse already typed each flag's value, so it goes in as it is: a round trip through text
    would turn ``--out no`` into False.
    """
    layer: dict[str, Any] = {}
    for flag, key in FLAG_KEYS.items():
        if (value := getattr(args, flag)) is not None:
            assign_nested(layer, key.split("."), value)
    if args.callbacks:
        assign_nested(layer, ["run", "callbacks"], [{"name": name} for name in args.callbacks])
    if args.variant:
        layer["variant"] = args.variant
    return merge_layers(layer, parse_set_items(args.set_items))


def check_one_variant(args: argparse.Namespace, file_layer: dict[str, Any]) -> None:
    """The VARIANT argument, ``--set variant=...`` and a ``--config`` file's ``variant`` name one
    variant, or the run would train one while the command line says another."""
    set_variant = parse_set_items(args.set_items).get("variant")
    others = [(set_variant, f"--set variant={set_variant}"), (file_layer.get("variant"), f"--config {args.config}")]
    for other, where in others:
        if args.variant and other is not None and other != args.variant:
            raise ConfigError(f"two variants asked for: {args.variant!r} (the VARIANT argument) and {other!r} "
                              f"({where}); name the variant once")


def settle_interrupted_overwrite(run_dir: RunDirectory, console: Console) -> None:
    """Before a ``--resume`` reads the run's config: finish or undo an ``--overwrite`` that a kill
    left half done (under the directory's lock), so the config read is the run's."""
    if pending(run_dir):
        refuse_foreign(run_dir, resume=True)  # only ever in a directory that is ganzoo's
        with locked_run_directory(run_dir.root):
            note = settle(run_dir)
        if note:
            say(console, note, label="note", style="yellow")


def run(args: argparse.Namespace, console: Console) -> int:
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: --resume continues the run in --out, "
                          "--overwrite replaces it; pass only one")
    file_layer = load_config_file(args.config) if args.config else {}
    check_one_variant(args, file_layer)
    flags = flag_layer(args)
    variant = flags.get("variant") or file_layer.get("variant")
    layers = [file_layer, flags]
    if args.resume:
        out = flags.get("run", {}).get("out_dir") or file_layer.get("run", {}).get("out_dir") or (
            f"runs/{variant}" if variant else None)
        if out is None:
            raise ConfigError("--resume needs the run directory: pass --out DIR (or the variant name, for runs/VARIANT)")
        run_dir = RunDirectory(Path(out))
        settle_interrupted_overwrite(run_dir, console)
        saved = config_to_resume(run_dir, variant)  # None: nothing to resume yet, the run starts there
        if saved is not None:
            variant = saved["variant"]
            layers = [saved, *layers, {"run": {"out_dir": str(out)}}]  # the directory it is in now, if it moved
    if variant:
        layers.insert(0, {"run": {"out_dir": f"runs/{variant}"}})
    plan = make_plan(layers)
    if args.nproc is not None and not launched_by_torchrun():
        return launch(args.nproc, args.argv)  # each rank comes back here through torchrun
    callbacks = [] if args.quiet else [ProgressDisplay(console=console)]
    with session(plan.config.run.device) as cluster:
        result = train(plan, callbacks=callbacks, resume=args.resume, overwrite=args.overwrite, cluster=cluster)
    if not cluster.is_main:
        return 0  # rank 0 reports
    progress = result.progress
    minutes, seconds = divmod(progress.elapsed_seconds, 60)
    say(console, f"trained {plan.config.variant} for {progress.global_step} steps "
                  f"({progress.images_seen:,} images, {progress.epoch} epochs) in {int(minutes)}m{seconds:04.1f}s "
                  f"on {result.device}/{result.precision}: {format_stats(result.last_stats)}")
    say(console, f"generator: {result.generator_path}")
    if not args.quiet:
        say(console, f"samples: {result.out_dir / 'samples'}   loss curve: {result.out_dir / 'loss_curve.png'}   "
                      f"resume with: ganzoo train --out {result.out_dir} --resume")
    return 0

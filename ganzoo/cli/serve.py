"""``ganzoo serve [PATHS...]``: a local web page to explore the generators under PATHS.

Needs the ``serve`` extra (Starlette and uvicorn); without it, one line says how to install it.
Binds 127.0.0.1 unless ``--host`` says otherwise, and warns when it does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ganzoo.cli.output import say
from ganzoo.errors import ConfigError

DEFAULT_PATHS = [Path("runs")]
MISSING_EXTRA = "ganzoo serve needs the serve extra: pip install 'ganzoo[serve]'"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("serve", parents=[common], help="explore generators in a local web page")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATHS",
                        help="weights files or run directories, searched for *.safetensors (default runs/)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--rate", type=float, default=512.0,
                        help="samples per second for the whole server (default 512, in bursts of up to 512)")
    parser.add_argument("--workers", type=int, default=2, help="generation threads (default 2)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None
    if not 0 <= args.port <= 65_535:
        raise ConfigError(f"--port must be between 0 and 65535 (got {args.port})")
    if args.rate <= 0 or args.rate != args.rate or args.workers < 1:
        raise ConfigError("--rate and --workers must be positive")
    from ganzoo.serve.app import ServeSettings, create_app
    from ganzoo.serve.catalogue import Catalogue
    from ganzoo.serve.server import LOOPBACK_NAMES, bind_socket, is_loopback, serve_forever, url_of

    loopback = is_loopback(args.host)
    sock = bind_socket(args.host, args.port)  # before loading: a busy port should not wait for that
    if not loopback:  # only once bound: a host that does not resolve is one error line, not a warning and one
        say(console, f"listening on {args.host}, not 127.0.0.1: anyone who can reach this machine can use this "
                     "server; leave out --host to keep it to this machine", label="warning", style="yellow")
    with sock:
        paths = args.paths or DEFAULT_PATHS
        catalogue = Catalogue.load(paths, device=args.device)
        if not len(catalogue):
            raise ConfigError(f"no .safetensors files under {', '.join(repr(str(p)) for p in paths)}; train one "
                              "first (`make demo` writes runs/demo/generator.safetensors)")
        for entry in catalogue:
            say(console, f"  {entry.path}: {entry.error or 'ok'}")
        settings = ServeSettings(samples_per_second=args.rate, workers=args.workers,
                                 allowed_hosts=(*LOOPBACK_NAMES, args.host) if loopback else None)
        usable = sum(entry.error is None for entry in catalogue)
        say(console, f"serving {usable} of {len(catalogue)} generators at {url_of(sock)} (Ctrl+C stops)")
        serve_forever(create_app(catalogue, settings), sock)
        console.print("stopped")
    return 0

"""A plugin cannot end the process: ``sys.exit``, ``KeyboardInterrupt`` or any other
``BaseException`` raised while it imports or in a hook is contained like any plugin failure
(reported by ``ganzoo list``, everything else keeps working), and so is a ``sys.exit`` in its
build code. A real Ctrl+C still stops ganzoo."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ganzoo.core.registry import PluginInfo, UserInterrupts, build_registry
from ganzoo.plugin import hookimpl
from ganzoo.testing import install_plugin

RunCli = Callable[..., subprocess.CompletedProcess[str]]

PLUGINS = {
    "exits_on_import": "import sys\nsys.exit(3)\n",
    "interrupts_on_import": "raise KeyboardInterrupt\n",
    "raises_base_on_import": "class Odd(BaseException):\n    pass\nraise Odd('odd')\n",
    "exits_in_a_hook": ("import sys\nfrom ganzoo.plugin import hookimpl\n\n@hookimpl\n"
                        "def ganzoo_register_variants():\n    sys.exit(4)\n"),
}


def install(site: Path) -> dict[str, str]:
    """Each plugin as a distribution of its own in ``site``; the environment that finds them."""
    env: dict[str, str] = {}
    for name, source in PLUGINS.items():
        env = install_plugin(site, name.replace("_", "-"), {name: source}, {name: name})
    return env


@pytest.mark.slow
def test_plugins_that_exit_or_interrupt_are_reported_and_ganzoo_keeps_working(run_cli: RunCli,
                                                                              tmp_path: Path) -> None:
    env = install(tmp_path / "site")
    listed = run_cli("list", env=env)
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout.replace("\n", " ")
    for problem in ("failed to import 'exits_on_import': SystemExit: 3",
                    "failed to import 'interrupts_on_import': KeyboardInterrupt",
                    "failed to import 'raises_base_on_import': Odd: odd",
                    "ganzoo_register_variants() raised SystemExit: 4"):
        assert problem in text, listed.stdout
    trained = run_cli("train", "mlp", "--max-steps", "1", "--limit", "64", "--batch-size", "32", "--quiet",
                      "--out", "run", env=env)
    assert trained.returncode == 0, trained.stderr


class Exits:
    @hookimpl
    def ganzoo_register_losses(self) -> list[object]:
        raise SystemExit(5)


class Interrupts:
    @hookimpl
    def ganzoo_register_losses(self) -> list[object]:
        raise KeyboardInterrupt


def test_a_hook_that_exits_or_interrupts_contributes_nothing_and_the_rest_registers() -> None:
    infos = [PluginInfo(name, f"{name}-dist", "1.0") for name in ("exits", "interrupts")]
    _, registry = build_registry([(Exits(), infos[0]), (Interrupts(), infos[1])])
    assert "hinge" in registry.names("loss")
    assert [str(problem).split(": ", 1)[1].split(";")[0] for problem in registry.problems] == [
        "ganzoo_register_losses() raised SystemExit: 5", "ganzoo_register_losses() raised KeyboardInterrupt: "]


def test_the_users_own_ctrl_c_still_stops_ganzoo() -> None:
    class PressesCtrlC:
        @hookimpl
        def ganzoo_register_losses(self) -> list[object]:
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal does: the handler records it
            return []

    with pytest.raises(KeyboardInterrupt):
        build_registry([(PressesCtrlC(), PluginInfo("ctrl-c", "ctrl-c-dist", "1.0"))])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    with UserInterrupts() as interrupts:
        interrupts.reraise_if_from_user(KeyboardInterrupt())  # a plugin's own: contained, nothing raised
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupts.reraise_if_from_user(KeyboardInterrupt())  # now it is the user's

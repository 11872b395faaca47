"""One process per run directory: an advisory lock on ``OUT/.lock`` that holds its owner's PID.

Two ``ganzoo train --resume`` on one ``--out`` would both train to the end, writing the same
checkpoint and doubling the rows of ``metrics.jsonl``. ``flock`` locks belong to an open file,
so the kernel drops them when their process dies: a SIGKILLed run never leaves its directory
locked, and a stale ``.lock`` file is simply taken over.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ganzoo.errors import RunDirectoryError
from ganzoo.io.files import check_output_path


class RunLock:
    """Held from before a run reads its directory until after its last write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise RunDirectoryError(
                    f"run directory {str(self.root)!r} is in use by process {holder} (another ganzoo train on it); "
                    "wait for it to finish or stop it, or choose another --out") from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the previous holder removed the file between our open and our lock: again
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk: name the file, and let go of the lock
            self.release()
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked, so no one can take the old file
        os.close(self._fd)
        self._fd = None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "(unknown PID)"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


@contextmanager
def locked_run_directory(root: Path, *, enabled: bool = True) -> Iterator[None]:
    """Create ``root`` if needed and hold its lock; a directory this call created and the run
    left empty (it failed to start) is removed again, so a refused run leaves nothing behind."""
    if not enabled:
        yield
        return
    if root.exists() and not root.is_dir():
        raise RunDirectoryError(f"output path {str(root)!r} is a file; choose another --out")
    check_output_path(root, "--out", kind="directory")  # under a file, unwritable, a name too long, ...
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the run directory {str(root)!r}: {exc.strerror}; "
                                "choose another --out") from None
    lock = RunLock(root)
    try:
        lock.acquire()
    except BaseException:
        if created:
            _remove_if_empty(root)
        raise
    try:
        yield
    finally:
        lock.release()
        if created:
            _remove_if_empty(root)


def _remove_if_empty(root: Path) -> None:
    try:
        root.rmdir()
    except OSError:
        pass  # not empty: the run wrote something

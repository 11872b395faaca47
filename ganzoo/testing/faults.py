"""Faults of the environment, injected for tests: a disk that fills up while one file is
written, a directory without write permission, a read-only file system.

Tests run as root in containers, where permission bits are not enforced and nothing can be
mounted read-only, so the faults are injected at the system calls every ganzoo writer goes
through (``ganzoo.io.files``): ``os.open``, ``os.write`` and ``os.access``. Used by
``tests/test_files.py`` and the hostile-input table (``tests/test_hostile.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock


@contextlib.contextmanager
def disk_full(name: str, code: int = errno.ENOSPC) -> Iterator[list[str]]:
    """Writes to any file whose name contains ``name`` (its temporary files included) fail as on
    a full disk: the first write stores half of its bytes, every later one raises ``code``.

    Yields the names of the files whose writes failed, so a test can check the fault was hit.
    """
    real_open, real_write, real_close = os.open, os.write, os.close
    doomed: dict[int, str] = {}
    failed: list[str] = []

    def open_(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        descriptor = real_open(path, flags, mode, *args, **kwargs)
        if flags & (os.O_WRONLY | os.O_RDWR) and name in os.path.basename(os.fspath(path)):
            doomed[descriptor] = os.fspath(path)
        return descriptor

    def write(descriptor: int, data: Any) -> int:
        if descriptor not in doomed:
            return real_write(descriptor, data)
        failed.append(doomed[descriptor])
        if len(failed) == 1 and len(data) > 1:
            return real_write(descriptor, bytes(data[:len(data) // 2]))  # what still fitted
        raise OSError(code, os.strerror(code))

    def close(descriptor: int) -> None:
        doomed.pop(descriptor, None)
        real_close(descriptor)

    with mock.patch.object(os, "open", open_), mock.patch.object(os, "write", write), \
            mock.patch.object(os, "close", close):
        yield failed


@contextlib.contextmanager
def no_write_permission() -> Iterator[None]:
    """Every directory reads as not writable (``os.access``), as for a user without the rights."""
    real_access = os.access

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        return False if mode & os.W_OK else real_access(path, mode, *args, **kwargs)

    with mock.patch.object(os, "access", access):
        yield


@contextlib.contextmanager
def read_only_file_system() -> Iterator[None]:
    """Creating or writing any file fails with ``EROFS``; reading still works."""
    real_open = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    with mock.patch.object(os, "open", open_):
        yield

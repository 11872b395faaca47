"""Every file ganzoo reads is opened here, and refused in one line when it cannot be what was asked.

Weights, checkpoints, configs, images, IDX files, reference statistics and the classifier's
weights come from paths people type and caches they can damage. ``open_input`` turns each way
such a path can be wrong into one ``GanzooError`` line naming the file and the fix: it does not
exist, it is a directory, it is a FIFO, device or socket (opening a FIFO blocks forever, so the
kind is checked before opening, and the file is opened non-blocking in case it was swapped), it
cannot be read, or it is larger than anything the caller could sensibly hold. Loaders then only
ever see the bytes of a regular file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from ganzoo.errors import GanzooError

KiB, MiB, GiB = 2**10, 2**20, 2**30
TEXT_MAX_BYTES = 16 * MiB
"""Config files, JSON beside a run and caches of numbers: nothing a person writes comes near this."""

_NOT_REGULAR = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
_UTF16_32_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
                  b"\xfe\xff": "UTF-16"}
_UTF8_BOM = b"\xef\xbb\xbf"


def check_input(path: Path | str, what: str, *, max_bytes: int | None = None,
                error: type[GanzooError] = GanzooError, fix: str | None = None) -> os.stat_result:
    """The ``stat`` of ``path`` once it is known to be a readable regular file of sensible size.

    ``what`` names the file for people ("weights file", "config file"); ``error`` is the
    ``GanzooError`` subclass raised, so each caller keeps its own family; ``fix`` replaces the
    advice that ends each message (a cache entry's fix is "remove it", not "check the path").
    """
    path = Path(path)
    shown = f"{what} {str(path)!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        hint = " (it is a symbolic link to a missing file)" if os.path.islink(path) else ""
        raise error(f"{shown} does not exist{hint}; {fix or 'check the path'}") from None
    except NotADirectoryError:
        raise error(f"{shown} does not exist (a part of its path is a file, not a directory); "
                    f"{fix or 'check the path'}") from None
    except PermissionError:
        raise error(_permission_denied(shown, fix)) from None
    except OSError as exc:
        raise error(f"cannot open {shown}: {exc.strerror or exc}; {fix or 'check the path'}") from None
    _check_regular(info, shown, what, error, fix)
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(f"{shown} is {format_size(info.st_size)}, more than the {format_size(max_bytes)} a {what} can "
                    f"sensibly be; {fix or 'check that the path names the right file'}")
    if not os.access(path, os.R_OK):
        raise error(_permission_denied(shown, fix))
    return info


def open_input(path: Path | str, what: str, *, max_bytes: int | None = None,
               error: type[GanzooError] = GanzooError, fix: str | None = None) -> BinaryIO:
    """``path`` opened for binary reading after ``check_input``; the caller closes it."""
    path = Path(path)
    shown = f"{what} {str(path)!r}"
    check_input(path, what, max_bytes=max_bytes, error=error, fix=fix)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        raise error(_permission_denied(shown, fix)) from None
    except OSError as exc:
        raise error(f"cannot open {shown}: {exc.strerror or exc}; {fix or 'check the path'}") from None
    try:
        _check_regular(os.fstat(descriptor), shown, what, error, fix)  # replaced since the check: still refused
        _set_blocking(descriptor)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def read_input_bytes(path: Path | str, what: str, *, max_bytes: int | None = None,
                     error: type[GanzooError] = GanzooError, fix: str | None = None) -> bytes:
    """The whole content of a checked input file."""
    with open_input(path, what, max_bytes=max_bytes, error=error, fix=fix) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise error(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}; check the disk, or copy the "
                        "file somewhere else and retry") from None


def read_input_text(path: Path | str, what: str, *, max_bytes: int | None = TEXT_MAX_BYTES,
                    error: type[GanzooError] = GanzooError, fix: str | None = None) -> str:
    """A checked input file decoded as UTF-8 (a leading byte-order mark is allowed and dropped)."""
    data = read_input_bytes(path, what, max_bytes=max_bytes, error=error, fix=fix)
    return decode_utf8(data, f"{what} {str(path)!r}", error)


def decode_utf8(data: bytes, shown: str, error: type[GanzooError] = GanzooError) -> str:
    """``data`` as UTF-8 text, or one line saying which encoding it seems to be in instead."""
    for bom, encoding in _UTF16_32_BOMS.items():
        if data.startswith(bom) and not data.startswith(_UTF8_BOM):
            raise error(f"{shown} is {encoding} text, not UTF-8; save it as UTF-8")
    try:
        return data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "save it as UTF-8") from None


def _check_regular(info: os.stat_result, shown: str, what: str, error: type[GanzooError], fix: str | None) -> None:
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFREG:
        return
    if kind == stat.S_IFDIR:
        raise error(f"{shown} is a directory, not a file; {fix or f'give the path of the {what} itself'}")
    name = _NOT_REGULAR.get(kind, "not a regular file")
    raise error(f"{shown} is {name}, not a regular file; {fix or 'give the path of a regular file'}")


def _set_blocking(descriptor: int) -> None:
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)


READ_PERMISSION_FIX = "give yourself read permission (chmod u+r, and x on its directories) or copy it somewhere readable"


def _permission_denied(shown: str, fix: str | None = None) -> str:
    return f"cannot read {shown}: permission denied; {fix or READ_PERMISSION_FIX}"


def format_size(count: int) -> str:
    """``count`` bytes for people: ``3.2 MiB``, ``512 bytes``."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if count >= unit:
            return f"{count / unit:.1f} {name}"
    return f"{count} bytes"

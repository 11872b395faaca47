"""Every file ganzoo writes goes through here: atomically, with output paths checked up front.

A writer puts the new content in a temporary file beside the destination (``.NAME.tmp-PID``,
which ``RunDirectory.discard_partial_writes`` removes if a killed process left one), writes it
whole, ``fsync``s it and renames it over the destination. A failure at any point (a full disk,
a read-only file system, a kill) leaves the previous file as it was and no temporary file.

``check_output_path`` refuses, before any work starts, an output path that could not be written
at the end, so that an evaluation or a long sampling job is never lost to a typo in ``--out``.
``describe_os_error`` turns an ``OSError`` into the one line the CLI prints.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

from ganzoo.errors import OutputError

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

NOTHING_OVERWRITTEN = "nothing was overwritten"
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
_FIXES = {
    errno.ENOSPC: f"free some space (or choose another --out) and rerun; {NOTHING_OVERWRITTEN}",
    errno.EDQUOT: f"free some space within your disk quota (or choose another --out) and rerun; {NOTHING_OVERWRITTEN}",
    errno.EFBIG: f"the file is too large for this file system; choose another --out; {NOTHING_OVERWRITTEN}",
    errno.EROFS: "that file system is mounted read-only; choose a path on a writable one",
    errno.EACCES: "check its permissions (and its directory's), or choose another path",
    errno.EPERM: "check its permissions (and its directory's), or choose another path",
    errno.ENOTDIR: "a component of the path is a file, not a directory; fix the path",
    errno.EISDIR: "it is a directory; give a file path",
    errno.EEXIST: "a file is in the way where a directory is needed; move it or choose another path",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "shorten the path (each name at most 255 bytes)",
    errno.ELOOP: "a symbolic link in the path points back to itself; fix the link or the path",
    errno.EMFILE: "raise the limit (ulimit -n) and rerun",
    errno.ENFILE: "close some programs and rerun",
    errno.EIO: "the device reported an I/O error; check the disk and rerun",
    errno.ENXIO: "it is a special file (a fifo with no reader, a device); give a regular file path",
    errno.EBUSY: "another program holds it; close that program or choose another path",
    errno.ETXTBSY: "another program holds it; close that program or choose another path",
}


def describe_os_error(exc: OSError, what: str | None = None) -> str:
    """``<what>: <path>: <strerror>; <fix>``, the one line for an error the environment caused.

    ``what`` defaults to ``cannot write`` for the errors only writing causes (no space, quota,
    read-only) and ``cannot open`` otherwise.
    """
    code = exc.errno
    what = what or ("cannot write" if code in _WRITE_ERRNOS else "cannot open")
    paths = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    fix = _FIXES.get(code or 0, "check the path, the disk and the permissions, and rerun")
    return ": ".join([what, " -> ".join(paths), reason] if paths else [what, reason]) + f"; {fix}"


# -- atomic writers ------------------------------------------------------------------------------


def temporary_path(path: Path) -> Path:
    """Where the new content of ``path`` is written before the rename (``.NAME.tmp-PID``)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_bytes(data: bytes | memoryview, path: Path) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename (``atomic_output``).

    A symbolic link is written through (its target gets the new content, the link stays). An
    ``OSError`` names ``path``, never the temporary file, which is always removed.
    """
    with atomic_output(path) as temporary:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            _write_all(descriptor, data)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path for content too large to hold as bytes (a memory-mapped array), written by
    the caller in place: fsynced and renamed over ``path`` when the block ends, removed if it fails."""
    destination = _through_symlink(Path(path))
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(destination)
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, destination)
        _fsync_directory(destination.parent)
    except OSError as exc:
        raise _naming(exc, Path(path)) from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def atomic_write_text(text: str, path: Path) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_png(pixels: np.ndarray, path: Path) -> None:
    """A uint8 image, (H, W) grey or (H, W, C), encoded as PNG in memory and written atomically."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    with buffer.getbuffer() as encoded:  # no copy: a grid of 100,000 images is large
        atomic_write_bytes(encoded, path)


def atomic_write_figure(figure: Figure, path: Path) -> None:
    """A matplotlib figure as PNG, rendered in memory and written atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(buffer.getvalue(), path)


def append_line(line: str, path: Path) -> None:
    """Append one line (a newline is added) to a log with a single ``os.write`` of the whole line.

    An append that fails (a full disk) is cut back off, so the log ends with its last whole line;
    only a kill in the middle of the write can leave a cut line, which readers of the log skip.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        size = os.fstat(descriptor).st_size
        try:
            _write_all(descriptor, (line + "\n").encode("utf-8"))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, size)
            raise _naming(exc, path) from exc
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # file systems that cannot sync a directory
            raise
    finally:
        os.close(descriptor)


def _through_symlink(path: Path) -> Path:
    return Path(os.path.realpath(path)) if path.is_symlink() else path  # realpath: a loop is no RuntimeError


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, naming the destination instead of the temporary file (or nothing)."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


# -- output paths, checked before the work -------------------------------------------------------


def check_output_path(path: Path, what: str, *, kind: Literal["file", "directory"] = "file",
                      suffix: str | None = None) -> None:
    """Refuse now, in one line, an output path the work could not be written to at its end.

    ``kind="file"``: ``path`` will be (re)written as a file; ``kind="directory"``: files will be
    written inside it. Missing directories are fine (the writers create them); a file where a
    directory must be, a directory or fifo where a file must be, a dangling symbolic link, a name
    too long, an unwritable directory or a wrong ``suffix`` (e.g. ``".png"``) are refused with an
    ``OutputError`` naming the path and the fix. Nothing is created.
    """
    path = Path(path)
    shown = f"{what} {str(path)!r}"
    _check_name_lengths(path, shown)
    existing = next(candidate for candidate in (path, *path.parents) if os.path.lexists(candidate))
    if existing.is_symlink() and not existing.exists():
        where = shown if existing == path else f"{shown}: {str(existing)!r}"
        raise OutputError(f"{where} is a dangling symbolic link (to {os.readlink(existing)!r}); remove it or "
                          f"choose another {what}")
    if existing != path and not existing.is_dir():
        raise OutputError(f"{shown} is under {str(existing)!r}, which is a file, not a directory; "
                          f"choose another {what}")
    if existing == path:
        _check_existing_kind(path, shown, what, kind, suffix)
    if suffix is not None and kind == "file" and path.suffix.lower() != suffix:
        raise OutputError(f"{shown} must end in {suffix}; give a file name such as {str(path.with_suffix(suffix))!r}")
    if existing != path:
        directory = existing  # the missing directories below it are created by the writers
    elif kind == "directory":
        directory = path
    else:
        directory = path.resolve().parent
    _check_writable_directory(directory, shown, what)


def check_not_an_input(path: Path, what: str, inputs: Iterable[Path]) -> None:
    """Refuse, before any work, an output path that is one of the command's inputs, or inside an
    input folder (a dataset root): writing it would replace or change what the command reads.

    Files are compared by identity where both exist (a hard or symbolic link to an input is that
    input), else by their resolved paths.
    """
    target = Path(path)
    for source in inputs:
        source = Path(source)
        if not os.path.lexists(source):
            continue
        if source.is_dir() and not source.is_symlink():
            inside = target.resolve().is_relative_to(source.resolve())
            if inside:
                raise OutputError(f"{what} {str(target)!r} is inside {str(source)!r}, which this command reads; "
                                  f"choose another {what}")
            continue
        same = os.path.samefile(target, source) if target.exists() else target.resolve() == source.resolve()
        if same:
            raise OutputError(f"{what} {str(target)!r} would overwrite {str(source)!r}, which this command reads "
                              f"(or a file of the run it reads); choose another {what}")


def _check_existing_kind(path: Path, shown: str, what: str, kind: str, suffix: str | None) -> None:
    mode = path.stat().st_mode
    if kind == "directory" and not stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is an existing file, not a directory; choose a directory for {what}")
    if kind == "file" and stat.S_ISDIR(mode):
        if suffix is None:
            raise OutputError(f"{shown} is an existing directory, not a file; give a file path, or move the "
                              "directory away")
        raise OutputError(f"{shown} is an existing directory; give a file path such as "
                          f"{str(path / ('samples' + suffix))!r}")
    if kind == "file" and not stat.S_ISREG(mode):
        raise OutputError(f"{shown} is a {_special_kind(mode)}, not a regular file; give a regular file path")


def _check_name_lengths(path: Path, shown: str) -> None:
    limit = 255
    with contextlib.suppress(OSError, ValueError):
        limit = os.pathconf(next(p for p in (path, *path.parents) if p.is_dir()), "PC_NAME_MAX")
    for name in path.parts:
        if len(os.fsencode(name)) > limit:
            raise OutputError(f"{shown} has a name of {len(os.fsencode(name))} bytes, more than the {limit} this "
                              "file system allows; shorten it")


def _check_writable_directory(directory: Path, shown: str, what: str) -> None:
    """Permission bits first (``os.access``, which also says no on a read-only file system), then
    a real probe: create and remove a file there."""
    if not os.access(directory, os.W_OK | os.X_OK):
        code = errno.EROFS if _read_only(directory) else errno.EACCES
        _refuse_directory(OSError(code, os.strerror(code)), directory, shown, what)
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".ganzoo-write-check-", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        _refuse_directory(exc, directory, shown, what)


def _refuse_directory(exc: OSError, directory: Path, shown: str, what: str) -> NoReturn:
    if exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"fix its permissions or choose another {what}"
    else:
        fix = _FIXES.get(exc.errno or 0, f"choose another {what}")
    raise OutputError(f"{shown}: cannot write in {str(directory)!r}: {exc.strerror or exc}; {fix}") from None


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"

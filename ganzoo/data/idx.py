"""IDX files, the format MNIST is published in, read whole and checked against their own header.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions), one
big-endian 4-byte size per dimension, then the values. Downloads break in two ways that look
alike from outside, so both are named for what they are: a gzip stream that ends early, and a
file shorter (or longer) than its header promises. Either way the message says what the header
promised and what the file holds, and to download it again; it never says "not found".
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import DataError
from ganzoo.io.inputs import GiB, read_input_bytes

IDX_MAX_BYTES = 2 * GiB
"""Full MNIST's largest file is 47 MB uncompressed; anything near this limit is not MNIST."""
UNSIGNED_BYTE = 0x08
_TYPE_NAMES = {0x09: "signed bytes", 0x0B: "16-bit integers", 0x0C: "32-bit integers", 0x0D: "floats",
               0x0E: "doubles"}
_GZIP_MAGIC = b"\x1f\x8b"
REDOWNLOAD = "re-download it"
GUNZIP_CHUNK = 4 * 2**20
"""Bytes decompressed at a time."""


def read_idx(path: Path) -> Tensor:
    """The uint8 array an IDX file holds (gzipped or not: the content says, not the name)."""
    raw = read_input_bytes(path, "IDX file", max_bytes=IDX_MAX_BYTES, error=DataError)
    shown = repr(str(path))
    data, complete = _gunzip(raw, shown) if raw.startswith(_GZIP_MAGIC) else (raw, True)
    shape = _header_shape(data, shown)
    offset = 4 + 4 * len(shape)
    expected = offset + math.prod(shape)
    holds = "unpacks to" if raw.startswith(_GZIP_MAGIC) else "holds"
    if len(data) > expected:  # unpacking stops one byte past the promise: a bomb is not unpacked whole
        more = f"more than {expected:,}" if holds == "unpacks to" else f"{len(data):,}"
        raise DataError(f"{shown} is corrupt: its header promises {describe_idx(shape)} ({expected:,} bytes), "
                        f"the file {holds} {more}; {REDOWNLOAD}")
    if len(data) < expected or not complete:
        ends = "" if complete else " (its gzip stream ends early)"
        raise DataError(f"{shown} is truncated or corrupt{ends}: its header promises {describe_idx(shape)} "
                        f"({expected:,} bytes), the file {holds} {len(data):,}; {REDOWNLOAD}")
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(shape)


def describe_idx(shape: tuple[int, ...]) -> str:
    """What a header promises, in MNIST's words: "10000 images of 28x28", "10000 labels"."""
    if len(shape) == 3:
        return f"{shape[0]} images of {shape[1]}x{shape[2]}"
    if len(shape) == 1:
        return f"{shape[0]} labels"
    return f"an array of shape {'x'.join(map(str, shape))}"


def _gunzip(raw: bytes, shown: str) -> tuple[bytes, bool]:
    """The decompressed bytes, and whether the gzip stream was complete (with a matching CRC).

    Decompressed a chunk at a time and never past what the header promises (plus one byte, to
    tell a longer file): a gzip bomb's header cannot promise more than ``IDX_MAX_BYTES``, so it is
    refused after at most that much memory, not after all it would unpack to."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = bytearray()
    pending, limit = raw, IDX_MAX_BYTES + 1
    try:
        while len(data) < limit and not decompressor.eof:
            chunk = decompressor.decompress(pending, min(GUNZIP_CHUNK, limit - len(data)))
            pending = decompressor.unconsumed_tail
            if not chunk and not pending:
                break  # the input ended before the stream did
            data += chunk
            if len(data) >= 4 + 4 * 4 and limit == IDX_MAX_BYTES + 1:  # the header is in: bound by it
                limit = _promised_bytes(bytes(data[:4 + 4 * 4]), shown) + 1
        if not decompressor.eof and pending:  # past the promise: read on, keeping nothing, to tell
            _drain(decompressor, pending, IDX_MAX_BYTES - len(data))  # a damaged stream from a longer one
    except zlib.error as exc:
        raise DataError(f"{shown} is a damaged gzip file ({exc}); {REDOWNLOAD}") from None
    if len(data) > IDX_MAX_BYTES:
        raise DataError(f"{shown} unpacks to more than {IDX_MAX_BYTES // GiB} GiB, which no MNIST file does; "
                        "check that it is the right file")
    return bytes(data), decompressor.eof


def _drain(decompressor: Any, pending: bytes, budget: int) -> None:
    """Decompress up to ``budget`` more bytes, discarding them: raises ``zlib.error`` where the
    stream is damaged (a CRC that does not match), in bounded memory."""
    while pending and budget > 0 and not decompressor.eof:
        budget -= len(decompressor.decompress(pending, min(GUNZIP_CHUNK, budget)))
        pending = decompressor.unconsumed_tail


def _promised_bytes(header: bytes, shown: str) -> int:
    """The size of the whole file an IDX header describes (checked as ``_header_shape`` checks it)."""
    shape = _header_shape(header, shown)
    return 4 + 4 * len(shape) + math.prod(shape)


def _header_shape(data: bytes, shown: str) -> tuple[int, ...]:
    if len(data) >= 4 and (data[0], data[1]) == (0, 0) and data[2] in _TYPE_NAMES:
        raise DataError(f"{shown} is an IDX file of {_TYPE_NAMES[data[2]]}; ganzoo reads unsigned-byte IDX "
                        "files (MNIST's); check that it is the right file")
    if len(data) < 4 or (data[0], data[1], data[2]) != (0, 0, UNSIGNED_BYTE) or not 1 <= data[3] <= 4:
        first = data[:4].hex(" ") or "missing"
        raise DataError(f"{shown} is not an unsigned-byte IDX file (its first bytes are {first}); {REDOWNLOAD}")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{shown} is truncated: it ends inside its header ({len(data)} bytes); {REDOWNLOAD}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if 0 in shape or math.prod(shape) > IDX_MAX_BYTES:
        raise DataError(f"{shown} is corrupt: its header gives the impossible shape {'x'.join(map(str, shape))}; "
                        f"{REDOWNLOAD}")
    return shape

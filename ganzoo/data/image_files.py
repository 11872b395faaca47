"""One image file -> uint8 pixels (C, H, W) in the channels a dataset asked for, or one line why not.

PIL opens many modes that ``Image.convert`` turns into 8-bit grey or RGB *wrongly*: 16-bit grey
(``I;16``) is clipped at 255, so it comes out nearly white; float (``F``) is truncated, so
[0, 1] data comes out black; transparency is dropped, revealing whatever colour the transparent
pixels happen to store. Here each mode is converted by what its values mean:

* 8-bit modes (``1``, ``L``, ``P``, ``RGB``, ``RGBX``, ``YCbCr``, ``LAB``, ``HSV``) convert as PIL does;
  ``CMYK`` through its embedded ICC profile when it has one;
* 16-bit grey (``I;16``, ``I;16L``, ``I;16B``, ``I;16N``): 0..65535 scaled to 0..255 (divided by 257, rounded);
* float grey (``F``): values in [0, 1] scaled by 255; any other range is refused;
* transparency (``LA``, ``RGBA``, ``PA``, ``P`` with a transparent colour, premultiplied ``La``/``RGBa``):
  composited onto white (``TRANSPARENT_BACKGROUND``), as a viewer shows it on a page; fully opaque
  alpha is simply dropped.

Everything else (32-bit integer ``I``, whose range no file documents, or a mode PIL names but we do
not know) is refused naming the file, its mode and its values, with the fix: save it as 8-bit PNG.
The JPEG/TIFF orientation tag is applied, so a photo taken upright is upright.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ganzoo.errors import DataError
from ganzoo.io.inputs import MiB, open_input

IMAGE_MAX_BYTES = 512 * MiB
TRANSPARENT_BACKGROUND = 255
"""Grey level (white) that transparent pixels are composited onto."""
EIGHT_BIT = {"1": "L", "L": "L", "P": "RGB", "RGB": "RGB", "RGBX": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
"""8-bit modes PIL converts faithfully, and the mode each becomes first."""
WITH_ALPHA = {"LA": "LA", "RGBA": "RGBA", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}
SIXTEEN_BIT_GREY = ("I;16", "I;16L", "I;16B", "I;16N")
SAVE_AS_8_BIT = "save it as an 8-bit PNG (grey or RGB)"


def decode_image(path: Path, channels: Literal[1, 3]) -> Tensor:
    """The image at ``path`` as uint8 (channels, H, W), converted faithfully or refused."""
    from PIL import Image, ImageOps

    with open_input(path, "image", max_bytes=IMAGE_MAX_BYTES, error=DataError) as handle:
        try:
            with Image.open(handle) as opened:
                image = _eight_bit(ImageOps.exif_transpose(opened), path)
                pixels = _flatten(image, channels)
        except Image.DecompressionBombError as exc:
            raise DataError(f"image {str(path)!r} is too large to decode safely ({exc}); resize it") from None
        except (OSError, ValueError, EOFError, SyntaxError, struct.error, KeyError, IndexError) as exc:
            raise DataError(f"cannot decode image {str(path)!r}: {type(exc).__name__}: {exc}; "
                            "remove or replace the file") from None
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8, copy=True))
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def _eight_bit(image: Any, path: Path) -> Any:
    """``image`` in one of L, RGB, LA, RGBA at 8 bits per channel, by what its values mean."""
    from PIL import Image

    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        return image.convert("RGBA")
    if mode in EIGHT_BIT:
        return image if mode == EIGHT_BIT[mode] else image.convert(EIGHT_BIT[mode])
    if mode in WITH_ALPHA:
        return image if mode == WITH_ALPHA[mode] else image.convert(WITH_ALPHA[mode])
    if mode == "CMYK":
        return _cmyk_to_rgb(image, path)
    if mode in SIXTEEN_BIT_GREY:
        values = np.asarray(image).astype(np.uint32)
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise DataError(f"image {str(path)!r} is 32-bit float (mode F) with values {_value_range(values)}; "
                            f"only float images in [0, 1] are read; {SAVE_AS_8_BIT}")
        return Image.fromarray(np.rint(values * 255).astype(np.uint8))
    if mode == "I":
        values = np.asarray(image)
        raise DataError(f"image {str(path)!r} is 32-bit integer (mode I) with values {_value_range(values)}; "
                        "such files do not say what range their values mean, so ganzoo does not guess; "
                        f"{SAVE_AS_8_BIT}")
    raise DataError(f"image {str(path)!r} has mode {mode!r}, which ganzoo cannot convert faithfully; {SAVE_AS_8_BIT}")


def _cmyk_to_rgb(image: Any, path: Path) -> Any:
    """Through the image's own ICC profile when it has one (print CMYK is not 255 - RGB)."""
    profile = image.info.get("icc_profile")
    if not profile:
        return image.convert("RGB")
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        raise DataError(f"image {str(path)!r} is CMYK with an ICC profile that cannot be applied ({exc}); "
                        f"{SAVE_AS_8_BIT}") from None


def _flatten(image: Any, channels: Literal[1, 3]) -> np.ndarray:
    """(H, W) grey or (H, W, 3) RGB uint8, transparency composited onto ``TRANSPARENT_BACKGROUND``."""
    if image.mode in ("LA", "RGBA"):
        from PIL import Image

        array = np.asarray(image).astype(np.uint32)
        colour, alpha = array[..., :-1], array[..., -1:]
        flat = ((colour * alpha + TRANSPARENT_BACKGROUND * (255 - alpha) + 127) // 255).astype(np.uint8)
        image = Image.fromarray(flat.squeeze(-1) if image.mode == "LA" else flat)  # (H, W) -> L, (H, W, 3) -> RGB
    target = "L" if channels == 1 else "RGB"
    return np.asarray(image if image.mode == target else image.convert(target))


def _value_range(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return "that are all NaN or Inf"
    shown = f"in [{finite.min():.6g}, {finite.max():.6g}]"
    return shown + (" and NaN or Inf" if finite.size != values.size else "")

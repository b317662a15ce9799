"""A photo as an optimization target: read, checked, centre-cropped and resized, with what was done.

:func:`read_target` reads the file at no more than about twice the working
resolution (large photos are reduced while loading, so a 10000x10000 JPEG or
PNG never exists at full size as floats), refuses pixels that are NaN or
infinite and images whose centre square would be under :data:`MIN_TARGET_SIDE`
pixels, and says how it cropped a non-square image. Float formats (EXR, float
TIFF) hold linear values, so their default encoding is ``"linear"``; integer
formats (8/16-bit PNG, JPEG) default to ``"srgb"``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .io import ImageError, ImageInfo, PathLike, prepare_target, read_image_info

MIN_TARGET_SIDE = 32
"""The smallest centre square (pixels) a target may have."""


@dataclass(frozen=True)
class Target:
    """A prepared target and where it came from."""

    image: torch.Tensor  # (1, 3, res, res) in [0, 1], in the file's own encoding
    digest: str  # SHA-256 of the decoded pixels (after any reduction on load)
    info: ImageInfo  # the file's size, linear or not, the reduction on load
    crop: str  # "" for a square image, else "cropped WxH to the centre SxS"

    @property
    def default_encoding(self) -> str:
        """``"linear"`` for float formats (EXR, float TIFF), ``"srgb"`` for 8/16-bit PNG and JPEG."""
        return "linear" if self.info.linear else "srgb"

    def describe(self) -> str:
        """One line: size, reduction on load and crop."""
        parts = [f"{self.info.width}x{self.info.height}"]
        if self.info.reduced > 1:
            parts.append(f"reduced {self.info.reduced}x while loading")
        if self.crop:
            parts.append(self.crop)
        return ", ".join(parts)


def pixel_digest(img: torch.Tensor) -> str:
    """SHA-256 (32 hex digits) of an image tensor's shape and values."""
    arr = np.ascontiguousarray(img.detach().cpu().numpy())
    h = hashlib.sha256(f"{arr.dtype}{arr.shape}".encode())
    h.update(arr.reshape(-1).view(np.uint8).data)
    return h.hexdigest()[:32]


def read_target(path: PathLike, res: int, *, min_side: int = MIN_TARGET_SIDE) -> Target:
    """Read ``path`` as a ``res x res`` target; :class:`ImageError` (one line, naming the file) when it
    cannot be read, has NaN or infinite values, or its centre square is under ``min_side`` pixels."""
    path = Path(path)
    img, info = read_image_info(path, min_side=2 * res)
    side = min(info.width, info.height)
    if side < min_side:
        raise ImageError(f"target image {path} is too small: {info.width}x{info.height} would be cropped to "
                         f"{side}x{side}, under the {min_side} px minimum")
    bad = ~torch.isfinite(img)
    if bad.any():
        n = int(bad.any(dim=1).sum())
        raise ImageError(f"target image {path} has {n} pixel(s) that are NaN or infinite; replace them "
                         f"(e.g. in the program that wrote the file) before fitting it")
    crop = "" if info.width == info.height else f"cropped {info.width}x{info.height} to the centre {side}x{side}"
    return Target(prepare_target(img, res, min_size=1), pixel_digest(img), info, crop)

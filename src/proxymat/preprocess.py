"""Any photo to a square target, with each step said.

:func:`prepare_photo` reads any image Pillow (or the built-in PNG/EXR
readers) can open, applies its EXIF orientation, reduces a large one while
loading, crops the centre square and resizes it to the working resolution
(:func:`proxymat.target.read_target` does the reading), and returns the
steps as short sentences for the log: "rotated by EXIF 90°", "cropped
4032x3024 to the centre 3024x3024", "resized to 256x256". A photo that is not
an image, or whose shorter side is under :data:`MIN_PHOTO_SIDE` pixels, is an
:class:`~proxymat.io.ImageError` with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .io import PathLike
from .target import Target, read_target

MIN_PHOTO_SIDE = 64
"""The shortest side (pixels) a photo may have."""

EXIF_ORIENTATION_TAG = 0x0112
_ORIENTATION = {2: "mirrored left-right by EXIF", 3: "rotated by EXIF 180°", 4: "mirrored top-bottom by EXIF",
                5: "mirrored and rotated by EXIF 90°", 6: "rotated by EXIF 90°", 7: "mirrored and rotated by EXIF 270°",
                8: "rotated by EXIF 270°"}
"""EXIF orientation value -> what applying it does (clockwise rotations)."""


@dataclass(frozen=True)
class Photo:
    """A photo prepared as a target, and the steps that made it."""

    target: Target
    encoding: str  # "srgb" or "linear": how the photo's values are stored
    steps: list[str] = field(default_factory=list)

    @property
    def image(self) -> torch.Tensor:
        """(1, 3, res, res) in [0, 1], in the photo's own encoding."""
        return self.target.image


def exif_orientation(path: PathLike) -> int:
    """The EXIF orientation of an image file (1: as stored; 1 when it has none or is not readable)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            value = im.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # not an image, or an EXR: the reader says why
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def prepare_photo(path: PathLike, res: int, *, linear: bool | None = None,
                  min_side: int = MIN_PHOTO_SIDE) -> Photo:
    """Read ``path`` as a ``res x res`` target; ``linear`` says how its values are stored (None: float
    formats are linear, 8/16-bit ones sRGB). :class:`~proxymat.io.ImageError` when it cannot be read or
    its shorter side is under ``min_side`` pixels."""
    path = Path(path)
    target = read_target(path, res, min_side=min_side)
    info = target.info
    kind = "float" if info.linear else "8/16-bit"
    steps = [f"read {path.name}: {info.width}x{info.height} ({kind})"]
    orientation = exif_orientation(path)
    if orientation != 1:
        steps.append(_ORIENTATION[orientation])
    if info.reduced > 1:
        steps.append(f"reduced {info.reduced}x while loading")
    if target.crop:
        steps.append(target.crop)
    side = min(info.width, info.height)
    steps.append(f"kept at {res}x{res}" if side == res and info.reduced == 1 else f"resized to {res}x{res}")
    encoding = target.default_encoding if linear is None else ("linear" if linear else "srgb")
    steps.append("linear values: gamma-encoded like the renders before comparing" if encoding == "linear"
                 else "sRGB values: compared as they are")
    return Photo(target, encoding, steps)

"""Image input/output: 8/16-bit PNG, JPEG, EXR; map naming and exports.

Images are float32 tensors ``(1, C, H, W)`` with C = 1 (gray) or 3 (RGB).

Reading (:func:`read_image`):

- PNG (8-bit gray, gray+alpha, RGB, RGBA, palette; and 16-bit of every colour
  type), JPEG (EXIF orientation applied), and whatever else Pillow can open,
  are scaled to [0, 1]. Alpha channels are dropped; palette images become RGB.
- 16-bit PNGs keep all 16 bits (Pillow's own reading truncates 16-bit RGB to
  8 bits): :func:`~proxymat.png.png16_bands` inflates the file a band of rows
  at a time, runs Pillow's C decoder on each band and joins the bytes, and each
  band is reduced (when the image is) before the next is read; Adam7 interlacing
  is not supported at 16 bits.
- EXR values are kept as they are (linear, may exceed 1 or be negative). The
  R, G, B channels are read, or Y, or the only channel of a one-channel file.
- Images up to :func:`pixel_limit` pixels (Pillow's decompression-bomb bound,
  about 179 megapixels) are read without a warning; larger ones are an error.
  :func:`read_image_info` can reduce a large image while loading it.

Every failure raises :class:`ImageError` with a one-line message naming the file.

Writing is atomic: the data goes to a temporary file in the target folder and
is moved into place with :func:`os.replace`; on error no partial file remains.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .png import PNG_SIGNATURE, decode_png16, encode_png, png16_bands, png_header, read_png16_header

__all__ = ["decode_png16", "encode_png"]  # the PNG codec, re-exported

MAP_NAMES: tuple[str, ...] = ("basecolor", "normal", "roughness", "metallic", "height")
DETAIL_MAPS: tuple[str, ...] = ("normal", "height")  # written at ``detail_bits``
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_KNOWN_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".exr": "EXR"}
PathLike = str | os.PathLike


class ImageError(Exception):
    """An image could not be read or written; the message names the file."""


# --------------------------------------------------------------------------- sRGB


def srgb_to_linear(x: Tensor) -> Tensor:
    """Exact piecewise sRGB decoding (IEC 61966-2-1); differentiable."""
    curve = ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4
    return torch.where(x <= 0.04045, x / 12.92, curve)


def linear_to_srgb(x: Tensor) -> Tensor:
    """Exact piecewise sRGB encoding, inverse of :func:`srgb_to_linear`."""
    curve = 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055
    return torch.where(x <= 0.0031308, x * 12.92, curve)


# --------------------------------------------------------------------------- reading


def _from_pil(im, factor: int = 1) -> np.ndarray:
    """Pillow image -> (H, W, 1|3) float32 array in its natural range, block-averaged by ``factor``."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 32-bit integer images are assumed to hold 16-bit values (older Pillow)
        return _pil_block_mean(im, factor).clip(0, 65535) / 65535.0
    if mode == "F":
        return _pil_block_mean(im, factor)
    if mode in ("1", "L", "LA", "La"):
        return _pil_block_mean(im if mode == "L" else im.convert("L"), factor) / 255.0
    if mode in ("P", "PA"):
        im = im.convert("RGBA")
    return _pil_block_mean(im if im.mode == "RGB" else im.convert("RGB"), factor) / 255.0


def _pil_block_mean(im, factor: int) -> np.ndarray:
    """:func:`_block_mean` of a Pillow image's samples (H, W, C), taken a band of rows at a time, so that
    no full-size array copy of a large image is made."""
    if factor <= 1:
        arr = np.asarray(im, dtype=np.float32)
        return arr[..., None] if arr.ndim == 2 else arr
    h, w = im.height // factor, im.width // factor
    top, left = (im.height - h * factor) // 2, (im.width - w * factor) // 2
    band = max(1, (1 << 22) // max(w * factor * factor, 1))
    parts = []
    for i in range(0, h, band):
        rows = min(band, h - i)
        arr = np.asarray(im.crop((left, top + i * factor, left + w * factor, top + (i + rows) * factor)))
        parts.append(_block_mean(arr[..., None] if arr.ndim == 2 else arr, factor))
    return np.concatenate(parts)


class ImageInfo(NamedTuple):
    """What the file holds besides its pixels: its own size, whether its values are linear (float
    formats: EXR, float TIFF), and the integer factor it was reduced by on load (1: full size)."""

    width: int
    height: int
    linear: bool
    reduced: int = 1


def pixel_limit() -> int:
    """The most pixels an image may have: Pillow's decompression-bomb bound (2x ``Image.MAX_IMAGE_PIXELS``,
    about 179 megapixels by default, e.g. 13000x13000)."""
    from PIL import Image

    return 2 * int(Image.MAX_IMAGE_PIXELS or 0) or 1 << 62


def _check_pixels(path: Path, w: int, h: int) -> None:
    if w * h > pixel_limit():
        raise ImageError(f"cannot read image {path}: {w}x{h} is above the limit of {pixel_limit() / 1e6:.0f} megapixels")


LARGE_PIXELS = 1 << 24
"""Images with more pixels (16.8 megapixels) may be reduced while loading (see :func:`read_image_info`)."""


def _reduce_factor(w: int, h: int, min_side: int | None) -> int:
    """The integer reduction of a large image that keeps its shorter side at least ``min_side`` (1: none)."""
    return max(1, min(w, h) // min_side) if min_side and w * h > LARGE_PIXELS else 1


def _read_pil(path: Path, min_side: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # the size is checked against pixel_limit() instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                _check_pixels(path, w, h)
                factor = _reduce_factor(w, h, min_side)
                if factor > 1 and im.format == "JPEG":  # decode at a reduced DCT scale: a fraction of the memory
                    im.draft(None, (-(-w // factor), -(-h // factor)))
                im.load()
                scale = max(1, round(w / im.width))  # the JPEG draft's reduction
                if im.getexif().get(0x0112, 1) != 1:  # an EXIF orientation to apply (no copy without one)
                    im = ImageOps.exif_transpose(im)
                if (im.width > im.height) != (w > h):  # turned by its EXIF orientation
                    w, h = h, w
                rest = max(1, factor // scale)
                return _from_pil(im, rest), ImageInfo(w, h, im.mode == "F", scale * rest)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"cannot read image {path}: above the limit of {pixel_limit() / 1e6:.0f} megapixels") from exc
    except UnidentifiedImageError as exc:
        kind = _KNOWN_SUFFIXES.get(path.suffix.lower())
        reason = f"not a valid {kind} file (corrupt?)" if kind else "unsupported image format"
        raise ImageError(f"cannot read image {path}: {reason}") from exc


def _block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    """(H, W, C) -> (H // factor, W // factor, C) float32 means of ``factor``-square blocks, a band of
    rows at a time (the float copy of the whole image is never made); the remainder rows and columns
    are left out evenly on both sides, so the centre stays the centre."""
    if factor <= 1:
        return arr.astype(np.float32)
    h, w, c = arr.shape[0] // factor, arr.shape[1] // factor, arr.shape[2]
    top, left = (arr.shape[0] - h * factor) // 2, (arr.shape[1] - w * factor) // 2
    arr = arr[top: top + h * factor, left: left + w * factor]
    out = np.empty((h, w, c), np.float32)
    band = max(1, (1 << 22) // max(w * factor * factor * c, 1))
    for i in range(0, h, band):
        block = arr[i * factor: (i + band) * factor].astype(np.float32)
        out[i: i + band] = block.reshape(-1, factor, w, factor, c).mean(axis=(1, 3))
    return out


def _exr_channel_key(name: str) -> str:
    return name.rsplit(".", 1)[-1].upper()


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path), separate_channels=True) as f:
        chans = {_exr_channel_key(k): v.pixels for k, v in f.channels().items()}
    if {"R", "G", "B"} <= chans.keys():
        planes = [chans[k] for k in "RGB"]
    elif "Y" in chans or len(chans) == 1:
        planes = [chans.get("Y", next(iter(chans.values())))]
    else:
        raise ImageError(f"cannot read image {path}: unsupported EXR channels {sorted(chans)}")
    return np.stack([np.asarray(p, dtype=np.float32) for p in planes], axis=-1)


def _read_png(path: Path, min_side: int | None) -> tuple[np.ndarray, ImageInfo]:
    with open(path, "rb") as fh:
        w, h, depth, _, _ = png_header(fh.read(33))
        if w == 0 or h == 0:
            raise ImageError(f"cannot read image {path}: zero-size image ({w}x{h})")
        if depth != 16:
            return _read_pil(path, min_side)
        _check_pixels(path, w, h)
        fh.seek(0)
        _, _, _, ctype, _ = read_png16_header(fh)
        factor = _reduce_factor(w, h, min_side)
        keep = 1 if ctype in (0, 4) else 3  # gray or RGB; alpha is dropped
        bands = (band[..., :keep] for band in png16_bands(fh, w, h, ctype))
        arr = _block_mean_rows(bands, h, w, keep, factor)
    arr /= 65535.0  # in place: a full-size image is not copied
    return arr, ImageInfo(w, h, False, factor)


def _block_mean_rows(bands: Iterable[np.ndarray], h: int, w: int, c: int, factor: int) -> np.ndarray:
    """:func:`_block_mean` of an (h, w, c) image given as bands of rows, top to bottom: each band is
    reduced as it comes, so only the reduced image and a band are in memory at once."""
    oh, ow = h // factor, w // factor
    top, left = (h - oh * factor) // 2, (w - ow * factor) // 2
    out = np.empty((oh, ow, c), np.float32)
    y, done, held = 0, 0, np.zeros((0, ow * factor, c), np.uint16)  # rows read; output rows; rows not yet reduced
    for band in bands:
        rows = band[max(top - y, 0): max(top + oh * factor - y, 0), left: left + ow * factor]
        y += len(band)
        held = np.concatenate([held, rows]) if len(held) else rows
        whole = len(held) // factor
        if whole:
            out[done: done + whole] = _block_mean(held[: whole * factor], factor)
            done, held = done + whole, held[whole * factor:]
    return out


def _decode(path: Path, min_side: int | None) -> tuple[np.ndarray, ImageInfo]:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise ImageError(f"cannot read image {path}: the file is empty")
    if head.startswith(PNG_SIGNATURE):
        return _read_png(path, min_side)
    if head.startswith(_EXR_MAGIC):
        arr = _read_exr(path)
        factor = _reduce_factor(arr.shape[1], arr.shape[0], min_side)
        return _block_mean(arr, factor), ImageInfo(arr.shape[1], arr.shape[0], True, factor)
    return _read_pil(path, min_side)


def read_image(path: PathLike) -> Tensor:
    """Read an image file as a float32 tensor ``(1, C, H, W)``, C = 1 or 3.

    Integer formats are scaled to [0, 1]; EXR values are returned unchanged.
    Raises :class:`ImageError` for missing, corrupt, unsupported or empty images.
    """
    return read_image_info(path)[0]


def read_image_info(path: PathLike, min_side: int | None = None) -> tuple[Tensor, ImageInfo]:
    """:func:`read_image` and the file's :class:`ImageInfo`.

    With ``min_side``, an image of more than :data:`LARGE_PIXELS` whose shorter side is at least twice
    ``min_side`` is reduced while loading by about the largest integer factor that keeps it at least
    ``min_side`` (block means of the integer samples; JPEGs are first decoded at a reduced DCT scale),
    so a very large photo never exists at full size as floats.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path}")
    if not path.is_file():
        raise ImageError(f"not a file: {path}")
    try:
        arr, info = _decode(path, min_side)
    except ImageError:
        raise
    except Exception as exc:  # Pillow / OpenEXR / zlib raise many types
        kind = _KNOWN_SUFFIXES.get(path.suffix.lower(), "image")
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageError(f"cannot read image {path}: corrupt or unreadable {kind} file ({detail})") from exc
    if arr.size == 0:
        raise ImageError(f"cannot read image {path}: zero-size image {arr.shape[1]}x{arr.shape[0]}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].float(), info


# --------------------------------------------------------------------------- writing


def _atomic_write(path: PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` on a temporary file next to ``path``, then move it into place."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise ImageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, ImageError):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ImageError(f"cannot write {path}: {reason}") from exc
        raise
    return path


def _to_hwc(img: Tensor, allowed: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """(1,C,H,W) or (C,H,W) tensor -> (H, W, C) float32 numpy array."""
    if img.dim() == 4:
        if img.shape[0] != 1:
            raise ValueError(f"expected a single image (batch 1), got batch {img.shape[0]}")
        img = img[0]
    if img.dim() != 3:
        raise ValueError(f"expected an image tensor (1,C,H,W) or (C,H,W), got {tuple(img.shape)}")
    c, h, w = img.shape
    if c not in allowed:
        raise ValueError(f"expected {' or '.join(map(str, allowed))} channels, got {c}")
    if h == 0 or w == 0:
        raise ValueError(f"cannot write a zero-size image ({w}x{h})")
    return img.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()


def quantize(arr: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to [0, 1] and round to 8- or 16-bit integers."""
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if np.isnan(arr).any():
        raise ValueError("image contains NaN values")
    top = (1 << bits) - 1
    return np.rint(np.clip(arr, 0.0, 1.0) * top).astype(np.uint16 if bits == 16 else np.uint8)


def write_png(path: PathLike, img: Tensor, bits: int = 8) -> Path:
    """Write a [0,1] image (C = 1, 2, 3 or 4) as an 8- or 16-bit PNG, atomically."""
    data = encode_png(quantize(_to_hwc(img), bits))
    return _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_exr(path: PathLike, img: Tensor, *, half: bool = False) -> Path:
    """Write an image (C = 1, 3 or 4) as a ZIP-compressed float32 (or half) EXR."""
    import OpenEXR

    arr = _to_hwc(img, allowed=(1, 3, 4)).astype(np.float16 if half else np.float32)
    name = {1: "Y", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
    pixels = arr[..., 0] if name == "Y" else arr
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}

    def write(tmp: Path) -> None:
        with OpenEXR.File(header, {name: np.ascontiguousarray(pixels)}) as f:
            f.write(str(tmp))

    return _atomic_write(path, write)


def write_image(path: PathLike, img: Tensor, *, bits: int = 8) -> Path:
    """Write a PNG (``bits`` 8/16) or EXR image; the format comes from the suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return write_png(path, img, bits)
    if suffix == ".exr":
        return write_exr(path, img)
    raise ImageError(f"cannot write {path}: unsupported output format {suffix!r} (use .png or .exr)")


def write_render(path: PathLike, img: Tensor, *, bits: int = 8) -> Path:
    """Write a rendered image ``(1,3,H,W)`` (already display-encoded) as PNG or EXR."""
    return write_image(path, img, bits=bits)


def _flip_green(normal: Tensor) -> Tensor:
    return torch.cat([normal[..., :1, :, :], 1.0 - normal[..., 1:2, :, :], normal[..., 2:, :, :]], dim=-3)


def write_maps(
    maps: Mapping[str, Tensor],
    out_dir: PathLike,
    *,
    bits: int = 8,
    normal_format: str = "gl",
    fmt: str = "png",
    prefix: str = "",
    detail_bits: int = 16,
) -> list[Path]:
    """Write SVBRDF maps as ``{prefix}{name}.{fmt}`` in ``out_dir`` (created if needed).

    Only the maps present are written, in :data:`MAP_NAMES` order. With PNG,
    ``bits`` applies to the colour maps (basecolor, roughness, metallic) and
    ``detail_bits`` (16 by default, to avoid banding) to normal and height.
    ``normal_format="dx"`` stores the normal map with its green channel flipped.
    Returns the written paths.
    """
    unknown = sorted(set(maps) - set(MAP_NAMES))
    if unknown:
        raise ValueError(f"unknown map name(s) {unknown}; expected some of {MAP_NAMES}")
    if not maps:
        raise ValueError("no maps to write")
    if normal_format not in ("gl", "dx"):
        raise ValueError(f"normal_format must be 'gl' or 'dx', got {normal_format!r}")
    if fmt not in ("png", "exr"):
        raise ValueError(f"fmt must be 'png' or 'exr', got {fmt!r}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    written = []
    for name in (n for n in MAP_NAMES if n in maps):
        img = maps[name]
        if name == "normal" and normal_format == "dx":
            img = _flip_green(img)
        target = out / f"{prefix}{name}.{fmt}"
        if fmt == "exr":
            written.append(write_exr(target, img))
        else:
            written.append(write_png(target, img, detail_bits if name in DETAIL_MAPS else bits))
    return written


# --------------------------------------------------------------------------- targets


def resize_square(img: Tensor, res: int) -> Tensor:
    """Square maps (B, C, n, n) to (B, C, res, res): area averaging down, bilinear up (clamped to [0, 1])."""
    n = img.shape[-1]
    if n == res:
        return img
    if n > res:
        return F.interpolate(img, size=(res, res), mode="area")
    return F.interpolate(img, size=(res, res), mode="bilinear", align_corners=False).clamp(0.0, 1.0)


def prepare_target(img: Tensor, res: int, *, linearize: bool = False, min_size: int = 8) -> Tensor:
    """Centre-crop to a square, resize to ``res x res`` and return ``(1, 3, res, res)``.

    Downsampling averages areas (antialiased); upsampling is bilinear. Gray images
    are repeated to 3 channels and alpha is dropped; values are clamped to
    [0, 1]. ``linearize`` applies :func:`srgb_to_linear` afterwards.
    """
    if img.dim() == 3:
        img = img[None]
    if img.dim() != 4 or img.shape[0] != 1 or img.shape[1] not in (1, 2, 3, 4):
        raise ValueError(f"expected an image (1,C,H,W) or (C,H,W), got {tuple(img.shape)}")
    if res < 1:
        raise ValueError(f"target resolution must be >= 1, got {res}")
    h, w = img.shape[-2:]
    if min(h, w) < min_size:
        raise ImageError(f"target image is too small ({w}x{h}); it needs at least {min_size} px per side")
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[..., top : top + side, left : left + side].float()
    img = img[:, :1].expand(-1, 3, -1, -1) if img.shape[1] <= 2 else img[:, :3]
    img = resize_square(img, res).clamp(0.0, 1.0)
    return srgb_to_linear(img) if linearize else img

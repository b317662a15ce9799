"""Image input/output: 8/16-bit PNG, JPEG, EXR; map naming and exports.

Images are float32 tensors ``(1, C, H, W)`` with C = 1 (gray) or 3 (RGB).

Reading (:func:`read_image`):

- PNG (8-bit gray, gray+alpha, RGB, RGBA, palette; and 16-bit of every colour
  type), JPEG (EXIF orientation applied), and whatever else Pillow can open,
  are scaled to [0, 1]. Alpha channels are dropped; palette images become RGB.
- 16-bit PNGs are decoded by a small built-in decoder (Pillow truncates 16-bit
  RGB to 8 bits). It handles every filter type but not Adam7 interlacing; rows
  using the Average/Paeth filters are decoded with a pure-Python loop, so very
  large 16-bit PNGs from other tools can take a few seconds.
- EXR values are kept as they are (linear, may exceed 1 or be negative). The
  R, G, B channels are read, or Y, or the only channel of a one-channel file.

Every failure raises :class:`ImageError` with a one-line message naming the file.

Writing is atomic: the data goes to a temporary file in the target folder and
is moved into place with :func:`os.replace`; on error no partial file remains.
"""

from __future__ import annotations

import os
import secrets
import struct
import zlib
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

MAP_NAMES: tuple[str, ...] = ("basecolor", "normal", "roughness", "metallic", "height")
DETAIL_MAPS: tuple[str, ...] = ("normal", "height")  # written at ``detail_bits``
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_PNG_SAMPLES = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
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


# --------------------------------------------------------------------------- PNG codec


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG file into (type, body) chunks, checking lengths and CRCs."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, pos = [], len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise ValueError("file is truncated (missing IEND chunk)")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"file is truncated (inside a {ctype.decode('latin-1')} chunk)")
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(ctype + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise ValueError(f"bad CRC in {ctype.decode('latin-1')} chunk (corrupt file)")
        chunks.append((ctype, body))
        if ctype == b"IEND":
            return chunks
        pos = end


def _png_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from the IHDR chunk."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValueError("missing IHDR chunk")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return w, h, depth, ctype, interlace


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter_slow(buf: bytearray, start: int, stride: int, bpp: int, kind: int) -> None:
    """Undo the Average (3) or Paeth (4) filter of one row in place."""
    prev0 = start - stride  # row above (all zeros for the first row)
    for i in range(stride):
        a = buf[start + i - bpp] if i >= bpp else 0
        b = buf[prev0 + i] if prev0 >= 0 else 0
        if kind == 3:
            pred = (a + b) >> 1
        else:
            c = buf[prev0 + i - bpp] if prev0 >= 0 and i >= bpp else 0
            pred = _paeth(a, b, c)
        buf[start + i] = (buf[start + i] + pred) & 0xFF


def _unfilter(raw: bytes, h: int, stride: int, bpp: int) -> np.ndarray:
    """Reverse the per-row PNG filters; returns the (h, stride) uint8 samples."""
    rows = np.frombuffer(raw, np.uint8)[: h * (stride + 1)].reshape(h, stride + 1)
    kinds = rows[:, 0].tolist()
    buf = bytearray(rows[:, 1:].tobytes())
    out = np.frombuffer(buf, np.uint8).reshape(h, stride)  # writable view of buf
    for y, kind in enumerate(kinds):
        if kind == 1:
            pix = out[y].reshape(-1, bpp)
            pix[:] = np.cumsum(pix, axis=0, dtype=np.uint8)
        elif kind == 2 and y > 0:
            out[y] += out[y - 1]
        elif kind in (3, 4):
            _unfilter_slow(buf, y * stride, stride, bpp, kind)
        elif kind > 4:
            raise ValueError(f"invalid PNG filter type {kind} (corrupt file)")
    return out.copy()


def decode_png16(data: bytes) -> np.ndarray:
    """Decode a non-interlaced 16-bit PNG to a (H, W, samples) uint16 array."""
    w, h, depth, ctype, interlace = _png_header(data)
    if depth != 16 or ctype not in _PNG_SAMPLES:
        raise ValueError(f"unsupported PNG bit depth {depth} / colour type {ctype}")
    if interlace:
        raise ValueError("interlaced 16-bit PNGs are not supported")
    chunks = _png_chunks(data)
    raw = zlib.decompress(b"".join(body for ctype_, body in chunks if ctype_ == b"IDAT"))
    bpp = 2 * _PNG_SAMPLES[ctype]
    if len(raw) < h * (w * bpp + 1):
        raise ValueError("image data is truncated")
    samples = _unfilter(raw, h, w * bpp, bpp)
    return samples.view(">u2").reshape(h, w, _PNG_SAMPLES[ctype]).astype(np.uint16)


def _filter_rows(x: np.ndarray, bpp: int) -> list[np.ndarray]:
    """The five PNG filters of every row of ``x`` (H, stride) uint8, as uint8."""
    xi = x.astype(np.int16)
    a = np.zeros_like(xi)
    a[:, bpp:] = xi[:, :-bpp]
    b = np.zeros_like(xi)
    b[1:] = xi[:-1]
    c = np.zeros_like(xi)
    c[1:, bpp:] = xi[:-1, :-bpp]
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    preds = [np.zeros_like(xi), a, b, (a + b) >> 1, paeth]
    return [((xi - pred) & 0xFF).astype(np.uint8) for pred in preds]


def encode_png(samples: np.ndarray, filter_type: int | None = None, level: int = 6) -> bytes:
    """Encode a (H, W, C) uint8 or uint16 array (C = 1..4) as a PNG file.

    ``filter_type`` None picks, per row, the filter with the smallest sum of
    absolute signed residuals (the usual heuristic); 0..4 forces one filter.
    """
    h, w, c = samples.shape
    depth = 16 if samples.dtype == np.uint16 else 8
    bpp = c * depth // 8
    rows = np.ascontiguousarray(samples, dtype=">u2" if depth == 16 else np.uint8)
    rows = rows.view(np.uint8).reshape(h, w * bpp)
    filtered = _filter_rows(rows, bpp) if h and rows.shape[1] else [rows] * 5
    if filter_type is None:
        cost = np.stack([np.minimum(f, 256 - f.astype(np.int32)).sum(axis=1) for f in filtered])
        choice = cost.argmin(axis=0)
    else:
        choice = np.full(h, filter_type)
    body = np.stack([filtered[k][y] for y, k in enumerate(choice)]) if h else rows
    raw = np.concatenate([choice.astype(np.uint8)[:, None], body], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, depth, _PNG_COLOR_TYPE[c], 0, 0, 0)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, level))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- reading


def _from_pil(im) -> np.ndarray:
    """Pillow image -> (H, W, 1|3) float32 array in its natural range."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        # 32-bit integer images are assumed to hold 16-bit values (older Pillow)
        return np.asarray(im, dtype=np.float32)[..., None].clip(0, 65535) / 65535.0
    if mode == "F":
        return np.asarray(im, dtype=np.float32)[..., None]
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.float32)[..., None] / 255.0
    if mode in ("P", "PA"):
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return _from_pil(ImageOps.exif_transpose(im))
    except UnidentifiedImageError as exc:
        kind = _KNOWN_SUFFIXES.get(path.suffix.lower())
        reason = f"not a valid {kind} file (corrupt?)" if kind else "unsupported image format"
        raise ImageError(f"cannot read image {path}: {reason}") from exc


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


def _read_png(path: Path, data: bytes) -> np.ndarray:
    w, h, depth, _, _ = _png_header(data)
    if w == 0 or h == 0:
        raise ImageError(f"cannot read image {path}: zero-size image ({w}x{h})")
    if depth != 16:
        return _read_pil(path)
    samples = decode_png16(data)
    color = samples[..., :1] if samples.shape[-1] <= 2 else samples[..., :3]
    return color.astype(np.float32) / 65535.0


def _decode(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise ImageError(f"cannot read image {path}: the file is empty")
    if head.startswith(_PNG_SIGNATURE):
        return _read_png(path, path.read_bytes())
    if head.startswith(_EXR_MAGIC):
        return _read_exr(path)
    return _read_pil(path)


def read_image(path: PathLike) -> Tensor:
    """Read an image file as a float32 tensor ``(1, C, H, W)``, C = 1 or 3.

    Integer formats are scaled to [0, 1]; EXR values are returned unchanged.
    Raises :class:`ImageError` for missing, corrupt, unsupported or empty images.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path}")
    if not path.is_file():
        raise ImageError(f"not a file: {path}")
    try:
        arr = _decode(path)
    except ImageError:
        raise
    except Exception as exc:  # Pillow / OpenEXR / zlib raise many types
        kind = _KNOWN_SUFFIXES.get(path.suffix.lower(), "image")
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageError(f"cannot read image {path}: corrupt or unreadable {kind} file ({detail})") from exc
    if arr.size == 0:
        raise ImageError(f"cannot read image {path}: zero-size image {arr.shape[1]}x{arr.shape[0]}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].float()


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

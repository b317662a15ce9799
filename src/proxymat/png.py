"""The PNG codec: chunk parsing, a 16-bit decoder that keeps all 16 bits, and an encoder.

Pillow reads 8-bit PNGs well but truncates 16-bit RGB(A) to 8 bits, and writes
no 16-bit RGB; these fill the gap. Errors are ``ValueError`` with a short reason
(the callers add the file name).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SAMPLES = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG file into (type, body) chunks, checking lengths and CRCs."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, pos = [], len(PNG_SIGNATURE)
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


def png_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from the IHDR chunk."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValueError("missing IHDR chunk")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return w, h, depth, ctype, interlace


_ZIP_RAWMODES = {  # colour type -> (Pillow mode, raw mode of the high bytes, of the low bytes) at 16 bits
    0: ("I;16", "I;16B", None), 4: ("RGBA", "RGBA", None),  # whole samples / bytes of a same-width 8-bit layout
    2: ("RGB", "RGB;16B", "RGB;16L"), 6: ("RGBA", "RGBA;16B", "RGBA;16L"),
}


def decode_png16(data: bytes) -> np.ndarray:
    """Decode a non-interlaced 16-bit PNG to a (H, W, samples) uint16 array.

    The data is inflated and unfiltered by Pillow's PNG decoder (in C): gray
    samples directly; gray+alpha as the bytes of an 8-bit RGBA layout of the
    same width; RGB(A) twice, as the high and as the low bytes of each sample.
    """
    from PIL import Image

    w, h, depth, ctype, interlace = png_header(data)
    if depth != 16 or ctype not in _PNG_SAMPLES:
        raise ValueError(f"unsupported PNG bit depth {depth} / colour type {ctype}")
    if interlace:
        raise ValueError("interlaced 16-bit PNGs are not supported")
    idat = b"".join(body for ctype_, body in png_chunks(data) if ctype_ == b"IDAT")
    mode, high, low = _ZIP_RAWMODES[ctype]
    samples = _PNG_SAMPLES[ctype]
    first = np.asarray(Image.frombytes(mode, (w, h), idat, "zip", high))
    if ctype == 0:
        return first.astype(np.uint16).reshape(h, w, 1)
    if ctype == 4:  # bytes G_hi G_lo A_hi A_lo
        pairs = first.reshape(h, w, 2, 2).astype(np.uint16)
        return (pairs[..., 0] << 8) | pairs[..., 1]
    second = np.asarray(Image.frombytes(mode, (w, h), idat, "zip", low))
    return ((first.astype(np.uint16) << 8) | second).reshape(h, w, samples)


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
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, level))
        + chunk(b"IEND", b"")
    )

"""The PNG codec: chunk parsing, a 16-bit decoder that keeps all 16 bits, and an encoder.

Pillow reads 8-bit PNGs well but truncates 16-bit RGB(A) to 8 bits, and writes
no 16-bit RGB; these fill the gap. The 16-bit decoder reads a file a band of
rows at a time (:func:`png16_bands`), so a large image need not be in memory at
once. Errors are ``ValueError`` with a short reason (the callers add the file name).
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO, Iterator

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SAMPLES = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG file into (type, body) chunks, checking lengths and CRCs."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    fh = io.BytesIO(data)
    fh.seek(len(PNG_SIGNATURE))
    chunks: list[tuple[bytes, bytes]] = []
    for ctype, piece, first in read_chunks(fh, len(data)):
        if first:
            chunks.append((ctype, piece))
    return chunks


def read_chunks(fh: BinaryIO, piece: int) -> Iterator[tuple[bytes, bytes, bool]]:
    """``(type, part of the body, True for a chunk's first part)`` of the chunks read from ``fh`` (just past
    the signature) up to IEND, a body in parts of at most ``piece`` bytes, checking lengths and CRCs
    (a chunk's CRC is checked before its last part is given: a body of one part before any of it is)."""
    while True:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("file is truncated (missing IEND chunk)")
        length, ctype = struct.unpack(">I4s", head)
        name = ctype.decode("latin-1")
        crc, left, first = zlib.crc32(ctype), length, True
        while first or left:
            want = min(left, max(piece, 1))
            part = fh.read(want)
            if len(part) < want:
                raise ValueError(f"file is truncated (inside a {name} chunk)")
            crc, left = zlib.crc32(part, crc), left - want
            if left == 0:
                _check_crc(fh.read(4), crc, name)
            yield ctype, part, first
            first = False
        if ctype == b"IEND":
            return


def _check_crc(stored: bytes, crc: int, name: str) -> None:
    if len(stored) < 4:
        raise ValueError(f"file is truncated (inside a {name} chunk)")
    if crc != struct.unpack(">I", stored)[0]:
        raise ValueError(f"bad CRC in {name} chunk (corrupt file)")


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
    """Decode a non-interlaced 16-bit PNG to a (H, W, samples) uint16 array (see :func:`png16_bands`)."""
    fh = io.BytesIO(data)
    w, h, _, ctype, _ = read_png16_header(fh)
    out = np.empty((h, w, _PNG_SAMPLES[ctype]), np.uint16)
    y = 0
    for band in png16_bands(fh, w, h, ctype):
        out[y: y + len(band)] = band
        y += len(band)
    return out


def read_png16_header(fh: BinaryIO) -> tuple[int, int, int, int, int]:
    """Read the signature and IHDR of a 16-bit PNG from ``fh``: (width, height, 16, colour type, 0);
    ValueError unless it is a non-interlaced 16-bit PNG."""
    head = fh.read(33)
    if not head.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    w, h, depth, ctype, interlace = png_header(head)
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise ValueError("bad CRC in IHDR chunk (corrupt file)")
    if depth != 16 or ctype not in _PNG_SAMPLES:
        raise ValueError(f"unsupported PNG bit depth {depth} / colour type {ctype}")
    if interlace:
        raise ValueError("interlaced 16-bit PNGs are not supported")
    return w, h, depth, ctype, interlace


BAND_BYTES = 1 << 22
"""About how many bytes of filtered image data :func:`png16_bands` decodes at a time (4 MiB; a band
takes several times that while it is decoded)."""


def png16_bands(fh: BinaryIO, width: int, height: int, ctype: int,
                band_bytes: int | None = None) -> Iterator[np.ndarray]:
    """The ``height`` rows of a 16-bit PNG read from ``fh`` (just past its IHDR, :func:`read_png16_header`),
    as (rows, width, samples) uint16 bands of about ``band_bytes`` (default :data:`BAND_BYTES`) of data
    each, top to bottom; the file is read in parts of that size, and the rest of its chunks are read
    (and their CRCs checked) after the last band.

    The image data is inflated a band at a time; Pillow's PNG decoder (in C) undoes the row filters of
    each band, given the band's rows behind the previous band's last row (unfiltered, so the first
    row's filter sees its real neighbour above): gray samples directly; gray+alpha as the bytes of an
    8-bit RGBA layout of the same width; RGB(A) twice, as the high and as the low bytes of each sample.
    """
    stride = 1 + width * _PNG_SAMPLES[ctype] * 2
    rows = max(1, (band_bytes or BAND_BYTES) // stride)
    above, pending, left = b"", bytearray(), height
    for data in _inflated(fh, rows * stride):
        pending += data
        while left and len(pending) >= min(rows, left) * stride:
            n = min(rows, left)
            band, above = _unfilter(bytes(pending[: n * stride]), above, width, ctype)
            del pending[: n * stride]
            left -= n
            yield band
        if not left:
            pending.clear()  # data past the last row is ignored
    if left:
        raise ValueError("image data is truncated (corrupt file)")


def _inflated(fh: BinaryIO, size: int) -> Iterator[bytes]:
    """The image data of the IDAT chunks read from ``fh`` (up to IEND), inflated in pieces of at most
    ``size`` bytes."""
    inflate = zlib.decompressobj()
    for ctype, body, _ in read_chunks(fh, size):
        while ctype == b"IDAT" and body and not inflate.eof:
            yield inflate.decompress(body, size)
            body = inflate.unconsumed_tail
    yield inflate.flush()


def _unfilter(filtered: bytes, above: bytes, width: int, ctype: int) -> tuple[np.ndarray, bytes]:
    """Decode whole filtered rows (``above``: the unfiltered row before them, or none): the
    (rows, width, samples) uint16 samples and the last row's unfiltered bytes."""
    from PIL import Image

    mode, high, low = _ZIP_RAWMODES[ctype]
    samples = _PNG_SAMPLES[ctype]
    lead = b"\x00" + above if above else b""  # filter type 0: the row as it is
    data = zlib.compress(lead + filtered, 0)
    h = (len(lead) + len(filtered)) // (1 + width * samples * 2)
    skip = 1 if above else 0
    first = np.asarray(Image.frombytes(mode, (width, h), data, "zip", high))[skip:]
    if ctype == 0:
        out = first.astype(np.uint16).reshape(h - skip, width, 1)
    elif ctype == 4:  # bytes G_hi G_lo A_hi A_lo
        pairs = first.reshape(h - skip, width, 2, 2).astype(np.uint16)
        out = (pairs[..., 0] << 8) | pairs[..., 1]
    else:
        second = np.asarray(Image.frombytes(mode, (width, h), data, "zip", low))[skip:]
        out = ((first.astype(np.uint16) << 8) | second).reshape(h - skip, width, samples)
    return out, out[-1].astype(">u2").tobytes() if len(out) else above


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

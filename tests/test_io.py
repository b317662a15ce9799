"""Tests of image reading/writing, sRGB conversions and target preparation."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat import io as pio
from proxymat.io import (
    MAP_NAMES,
    ImageError,
    decode_png16,
    encode_png,
    linear_to_srgb,
    prepare_target,
    read_image,
    srgb_to_linear,
    write_exr,
    write_image,
    write_maps,
    write_png,
)


def rand_img(c, h=6, w=7, seed=0):
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("bits", [8, 16])
def test_png_round_trip(tmp_path, c, bits):
    img = rand_img(c)
    path = write_png(tmp_path / "x.png", img, bits=bits)
    back = read_image(path)
    top = (1 << bits) - 1
    assert back.shape == (1, c, 6, 7) and back.dtype == torch.float32
    # rounding (not truncation): exactly the nearest code value
    assert torch.equal(torch.round(back * top), torch.round(img * top))
    assert (back - img).abs().max() <= 0.5 / top + 1e-7


def test_png_writes_are_clamped_and_rounded(tmp_path):
    img = torch.tensor([-0.5, 0.0, 0.499 / 255, 0.501 / 255, 1.0, 7.0]).view(1, 1, 1, 6)
    back = read_image(write_png(tmp_path / "c.png", img)) * 255
    assert back.flatten().tolist() == [0, 0, 0, 1, 255, 255]


def test_16bit_rgb_png_keeps_low_bytes(tmp_path):
    # Pillow would truncate these to 8 bits: values differing only in the low byte
    img = torch.tensor([256, 257, 258, 65535, 0, 1]).view(1, 3, 1, 2) / 65535.0
    back = read_image(write_png(tmp_path / "x.png", img, bits=16))
    assert (back * 65535).round().flatten().tolist() == [256, 257, 258, 65535, 0, 1]


@pytest.mark.parametrize("samples", [1, 2, 3, 4])
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4, None])
def test_png16_decoder_every_filter(samples, filter_type):
    a = np.random.default_rng(samples).integers(0, 65536, size=(5, 6, samples)).astype(np.uint16)
    assert np.array_equal(decode_png16(encode_png(a, filter_type)), a)


def _rechunked(data: bytes, size: int) -> bytes:
    """The PNG ``data`` with its image data split into IDAT chunks of ``size`` bytes."""
    from proxymat.png import PNG_SIGNATURE, png_chunks

    chunks = png_chunks(data)
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    parts = [(b"IDAT", idat[i: i + size]) for i in range(0, len(idat), size)]
    out = [c for c in chunks if c[0] == b"IHDR"] + parts + [(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(struct.pack(">I", len(body)) + kind + body
                                    + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF) for kind, body in out)


@pytest.mark.parametrize("samples", [1, 2, 3, 4])
@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4, None])
def test_png16_bands_join_to_the_image_across_band_and_chunk_boundaries(samples, filter_type):
    """Bands of 2-3 rows (each row's filter refers to the row above, which may end the previous band),
    read from IDAT chunks of 100 bytes and from one chunk in parts."""
    import io as _io

    from proxymat.png import png16_bands, read_png16_header

    a = np.random.default_rng(samples).integers(0, 65536, size=(23, 9, samples)).astype(np.uint16)
    for data in (encode_png(a, filter_type), _rechunked(encode_png(a, filter_type), 100)):
        fh = _io.BytesIO(data)
        w, h, _, ctype, _ = read_png16_header(fh)
        bands = list(png16_bands(fh, w, h, ctype, band_bytes=(1 + 9 * samples * 2) * 5 // 2))
        assert len(bands) == 12 and np.array_equal(np.concatenate(bands), a)
        assert np.array_equal(decode_png16(data), a)


def _box_means(a: np.ndarray, f: int) -> np.ndarray:
    """Means of f x f blocks in float64, the remainder rows and columns left out evenly on both sides."""
    h, w = a.shape[0] // f, a.shape[1] // f
    top, left = (a.shape[0] - h * f) // 2, (a.shape[1] - w * f) // 2
    return a[top: top + h * f, left: left + w * f].astype(np.float64).reshape(h, f, w, f, -1).mean(axis=(1, 3))


@pytest.mark.parametrize("samples", [1, 2, 3, 4])
def test_a_large_16bit_png_is_reduced_band_by_band_to_its_box_means(samples, tmp_path, monkeypatch):
    """Bands of 5 rows against 12-row blocks that start 3 rows down, so bands end inside blocks;
    what the reading allocates at once (numpy arrays and bytes, traced) stays far below the image's samples."""
    import tracemalloc

    monkeypatch.setattr(pio, "LARGE_PIXELS", 10_000)
    w = 3000 // samples  # about 3.7 MB of samples
    y, x = np.mgrid[0:619, 0:w]
    smooth = 30000 + 20000 * np.sin(x / 17.0)[..., None] * np.cos(y / 23.0)[..., None]
    noise = np.random.default_rng(0).integers(-900, 900, size=(619, w, samples))
    a = np.clip(smooth + noise, 0, 65535).astype(np.uint16)
    path = tmp_path / "big16.png"
    path.write_bytes(encode_png(a, filter_type=4))
    monkeypatch.setattr("proxymat.png.BAND_BYTES", 1 << 15)
    pio.read_image_info(path, min_side=48)  # imports done: the peak below is the reading's
    tracemalloc.start()
    try:
        img, info = pio.read_image_info(path, min_side=48)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    keep = 1 if samples <= 2 else 3
    assert info.reduced == 12 and img.shape == (1, keep, 51, w // 12)
    ref = _box_means(a[..., :keep], 12) / 65535
    assert np.abs(img[0].permute(1, 2, 0).numpy() - ref).max() < 1e-6
    assert peak < a.nbytes / 3  # neither the image's samples nor the file were in memory at once


def test_our_8bit_png_matches_pillow_decoder():
    a = np.random.default_rng(3).integers(0, 256, size=(5, 6, 3)).astype(np.uint8)
    import io as _io

    for ft in (1, 3, 4):
        assert np.array_equal(np.asarray(Image.open(_io.BytesIO(encode_png(a, ft)))), a)


def test_reads_pillow_written_16bit_gray(tmp_path):
    a = np.random.default_rng(1).integers(0, 65536, size=(9, 11)).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g.png")
    back = read_image(tmp_path / "g.png")
    assert back.shape == (1, 1, 9, 11)
    assert np.array_equal((back[0, 0].numpy() * 65535).round().astype(np.uint16), a)


def test_rgba_png_drops_alpha(tmp_path):
    a = np.random.default_rng(2).integers(0, 256, size=(4, 5, 4)).astype(np.uint8)
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    back = read_image(tmp_path / "a.png")
    assert back.shape == (1, 3, 4, 5)
    assert torch.equal((back * 255).round().to(torch.uint8)[0].permute(1, 2, 0), torch.from_numpy(a[..., :3]))
    # 16-bit RGBA and gray+alpha go through our decoder
    img = rand_img(4)
    assert read_image(write_png(tmp_path / "b.png", img, bits=16)).shape == (1, 3, 6, 7)
    la = read_image(write_png(tmp_path / "la.png", rand_img(2), bits=16))
    assert la.shape == (1, 1, 6, 7)


def test_gray_alpha_8bit(tmp_path):
    Image.fromarray(np.full((3, 4, 2), [10, 200], np.uint8), "LA").save(tmp_path / "la.png")
    back = read_image(tmp_path / "la.png")
    assert back.shape == (1, 1, 3, 4) and torch.allclose(back, torch.tensor(10 / 255))


def test_palette_png(tmp_path):
    im = Image.new("P", (4, 3))
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "p.png")
    back = read_image(tmp_path / "p.png")
    assert back.shape == (1, 3, 3, 4)
    assert back[0, :, 0, 0].tolist() == [1, 0, 0] and back[0, :, 0, 1].tolist() == [0, 1, 0]


def test_jpeg_reads(tmp_path):
    Image.new("RGB", (10, 8), (200, 100, 50)).save(tmp_path / "j.jpg", quality=95)
    back = read_image(tmp_path / "j.jpg")
    assert back.shape == (1, 3, 8, 10)
    assert torch.allclose(back.mean((2, 3)).flatten(), torch.tensor([200, 100, 50]) / 255, atol=3 / 255)


def test_jpeg_exif_orientation_applied(tmp_path):
    im = Image.new("RGB", (10, 4), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    im.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (1, 3, 10, 4)


@pytest.mark.parametrize("c", [1, 3])
def test_exr_round_trip_keeps_values(tmp_path, c):
    img = rand_img(c) * 4 - 1  # outside [0, 1] on purpose: EXR keeps values
    back = read_image(write_exr(tmp_path / "x.exr", img))
    assert back.shape == img.shape and torch.equal(back, img)
    half = read_image(write_exr(tmp_path / "h.exr", img, half=True))
    assert torch.allclose(half, img, atol=4e-3)


def test_write_image_dispatches_on_suffix(tmp_path):
    img = rand_img(3)
    assert torch.equal(read_image(write_image(tmp_path / "a.exr", img)), img)
    with pytest.raises(ImageError, match="unsupported output format '.bmp'"):
        write_image(tmp_path / "a.bmp", img)
    assert sorted(os.listdir(tmp_path)) == ["a.exr"]


# ---------------------------------------------------------------- read errors


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="image not found: .*nope.png"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="not a file"):
        read_image(tmp_path)


def test_corrupt_png_names_the_path(tmp_path):
    path = tmp_path / "random.png"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 300).astype(np.uint8).tobytes())
    with pytest.raises(ImageError, match=r"cannot read image .*random\.png: not a valid PNG file"):
        read_image(path)


@pytest.mark.parametrize("bits", [8, 16])
def test_truncated_png(tmp_path, bits):
    a = np.random.default_rng(0).integers(0, 255, size=(32, 32, 3)).astype(np.uint8)
    data = encode_png(a.astype(np.uint16) * 257 if bits == 16 else a)
    path = tmp_path / "t.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cannot read image .*t\.png"):
        read_image(path)


def test_corrupt_exr_and_empty_file(tmp_path):
    (tmp_path / "b.exr").write_bytes(b"\x76\x2f\x31\x01garbage")
    with pytest.raises(ImageError, match=r"b\.exr: corrupt or unreadable EXR"):
        read_image(tmp_path / "b.exr")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageError, match="the file is empty"):
        read_image(tmp_path / "e.png")


def test_unsupported_format(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is not an image")
    with pytest.raises(ImageError, match="unsupported image format"):
        read_image(tmp_path / "notes.txt")


def test_zero_size_png(tmp_path):
    (tmp_path / "z.png").write_bytes(encode_png(np.zeros((0, 4, 1), np.uint8)))
    with pytest.raises(ImageError, match=r"zero-size image \(4x0\)"):
        read_image(tmp_path / "z.png")


def test_bad_crc_and_interlaced_16bit(tmp_path):
    data = bytearray(encode_png(np.zeros((2, 2, 3), np.uint16)))
    data[-20] ^= 0xFF  # inside the IDAT payload
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad CRC"):
        read_image(tmp_path / "crc.png")
    good = encode_png(np.zeros((2, 2, 3), np.uint16))
    ihdr = bytearray(good[8:33])
    ihdr[-5] = 1  # interlace byte (last byte of the 13-byte IHDR body)
    ihdr[-4:] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:-4])) & 0xFFFFFFFF)
    (tmp_path / "i.png").write_bytes(good[:8] + bytes(ihdr) + good[33:])
    with pytest.raises(ImageError, match="interlaced 16-bit"):
        read_image(tmp_path / "i.png")


# ---------------------------------------------------------------- atomic writes


def test_write_into_a_file_parent_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageError, match=r"cannot write .*file/x\.png"):
        write_png(tmp_path / "file" / "x.png", rand_img(3))
    assert os.listdir(tmp_path) == ["file"]


def test_failed_replace_leaves_no_temp_and_keeps_old_file(tmp_path, monkeypatch):
    target = write_png(tmp_path / "x.png", rand_img(3, seed=1))
    before = target.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pio.os, "replace", boom)
    with pytest.raises(ImageError, match="cannot write .*x.png: No space left on device"):
        write_png(target, rand_img(3, seed=2))
    with pytest.raises(ImageError, match="cannot write"):
        write_exr(tmp_path / "y.exr", rand_img(3))
    assert os.listdir(tmp_path) == ["x.png"]
    assert target.read_bytes() == before


def test_write_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        write_png(tmp_path / "a.png", rand_img(3), bits=12)
    with pytest.raises(ValueError, match="batch 2"):
        write_png(tmp_path / "a.png", torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        write_png(tmp_path / "a.png", torch.full((3, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="1 or 3 or 4 channels"):
        write_exr(tmp_path / "a.exr", rand_img(2))
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- maps


def test_write_maps_names_bits_and_dx(tmp_path):
    maps = {
        "basecolor": rand_img(3, seed=1),
        "normal": rand_img(3, seed=2),
        "roughness": rand_img(1, seed=3),
        "height": rand_img(1, seed=4),
    }
    paths = write_maps(maps, tmp_path / "out", normal_format="dx", prefix="m_")
    assert [p.name for p in paths] == ["m_basecolor.png", "m_normal.png", "m_roughness.png", "m_height.png"]
    assert Image.open(paths[0]).mode == "RGB"  # 8-bit colour map
    assert decode_png16(paths[1].read_bytes()).dtype == np.uint16  # 16-bit detail maps
    normal = read_image(paths[1])
    assert torch.allclose(normal[:, 1], 1 - maps["normal"][:, 1], atol=1e-4)
    assert torch.allclose(normal[:, 0], maps["normal"][:, 0], atol=1e-4)
    assert torch.allclose(read_image(paths[3]), maps["height"], atol=1e-4)
    exr = write_maps({"metallic": rand_img(1)}, tmp_path / "e", fmt="exr")
    assert exr[0].name == "metallic.exr" and torch.equal(read_image(exr[0]), rand_img(1))


def test_write_maps_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown map name\(s\) \['albedo'\]"):
        write_maps({"albedo": rand_img(3)}, tmp_path)
    with pytest.raises(ValueError, match="no maps"):
        write_maps({}, tmp_path)
    assert MAP_NAMES == ("basecolor", "normal", "roughness", "metallic", "height")


# ---------------------------------------------------------------- sRGB and targets


def test_srgb_known_values_and_inverse():
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
    lin = srgb_to_linear(x)
    assert lin.tolist() == pytest.approx([0.0, 0.04045 / 12.92, ((0.555) / 1.055) ** 2.4, 1.0])
    assert lin[2].item() == pytest.approx(0.21404, abs=1e-5)
    y = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(y)), y, atol=1e-12)
    assert torch.allclose(srgb_to_linear(linear_to_srgb(y)), y, atol=1e-12)


def test_srgb_gradients():
    x = torch.tensor([0.0, 0.01, 0.3, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(srgb_to_linear, (x,))
    assert torch.autograd.gradcheck(linear_to_srgb, (x[1:].detach().requires_grad_(),))


def test_prepare_target_crops_the_centre():
    img = torch.zeros(1, 1, 40, 60)
    img[..., :, 10:50] = 1.0  # the central 40x40 square is white, the sides black
    out = prepare_target(img, 16)
    assert out.shape == (1, 3, 16, 16)
    assert torch.allclose(out, torch.ones_like(out))
    tall = torch.zeros(3, 60, 40)
    tall[:, 10:50] = torch.linspace(0, 1, 40).view(1, 40, 1)  # vertical ramp in the centre
    out = prepare_target(tall, 40)
    assert torch.allclose(out[0, :, :, 0], torch.linspace(0, 1, 40).expand(3, 40))


def test_prepare_target_upsamples_bilinearly():
    img = torch.linspace(0, 1, 10).view(1, 1, 1, 10).expand(1, 1, 10, 10)
    out = prepare_target(img, 20)
    assert out.shape == (1, 3, 20, 20)
    row = out[0, 0, 5]
    assert (row[1:] >= row[:-1]).all() and row[0] == 0 and row[-1] == 1
    # output pixel 9 samples source x = (9 + 0.5) / 2 - 0.5 = 4.25, i.e. 4.25 / 9
    assert row[9].item() == pytest.approx(4.25 / 9, abs=1e-6)


def test_prepare_target_antialiases_and_linearizes():
    checker = (torch.arange(64).view(8, 8) % 2).float()  # 1-px stripes
    checker = checker.repeat(4, 4)[None, None]  # 32x32
    out = prepare_target(checker, 8)
    assert torch.allclose(out, torch.full_like(out, 0.5), atol=0.02)  # averaged, not aliased
    lin = prepare_target(checker, 8, linearize=True)
    assert torch.allclose(lin, srgb_to_linear(out))


def test_prepare_target_errors():
    with pytest.raises(ImageError, match=r"too small \(6x20\)"):
        prepare_target(torch.rand(1, 3, 20, 6), 16)
    with pytest.raises(ValueError, match="expected an image"):
        prepare_target(torch.rand(2, 3, 20, 20), 16)

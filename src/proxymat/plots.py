"""Figures of a run, drawn with Pillow: loss curves, time curves, labelled image rows, GIFs.

Text uses Pillow's scalable default font; labels are laid out so that they
never overlap (:func:`layout_labels`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_target
from .gallery import tile_grid

STAGE_COLORS = {"stage1": (31, 119, 180), "counts": (140, 86, 75), "sweep": (148, 103, 189), "stage2": (214, 39, 40),
                "polish": (255, 127, 14), "stage3": (44, 160, 44)}
METHOD_COLORS = ((214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14))
INK = (20, 20, 20)
GRID = (225, 225, 225)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (its fixed bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


def text_size(draw: ImageDraw.ImageDraw, text: str, fnt: Any) -> tuple[int, int]:
    """Width and height of ``text`` in ``fnt``."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=fnt)
    return int(math.ceil(right - min(left, 0))), int(math.ceil(bottom - min(top, 0)))


def layout_labels(sizes: Sequence[tuple[int, int]], max_width: int, gap: int = 12) -> list[tuple[int, int]]:
    """Top-left corners for boxes of ``sizes`` placed left to right, wrapping to a new row at
    ``max_width``; rows are as tall as their tallest box plus ``gap`` / 2. No two boxes overlap."""
    out: list[tuple[int, int]] = []
    x = y = row_h = 0
    for w, h in sizes:
        if x > 0 and x + w > max_width:
            x, y, row_h = 0, y + row_h + gap // 2, 0
        out.append((x, y))
        x += w + gap
        row_h = max(row_h, h)
    return out


def to_pil(img: torch.Tensor) -> Image.Image:
    """The first image of a (B, C, H, W) tensor in [0, 1] as a Pillow image."""
    arr = (img[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def save_image(img: Image.Image, path: Path, **kwargs: Any) -> Path:
    """Save atomically, the format taken from the suffix; returns ``path``."""
    with atomic_target(path) as tmp:
        img.save(tmp, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"), **kwargs)
    return path


def _fit(draw: ImageDraw.ImageDraw, text: str, fnt: Any, width: int) -> str:
    """``text``, shortened with an ellipsis until it fits in ``width`` pixels."""
    while len(text) > 1 and text_size(draw, text, fnt)[0] > width:
        text = text[:-2] + "…"
    return text


def plot_curves(curves: Mapping[str, Sequence[float]], path: Path, size: tuple[int, int] = (720, 300)) -> Path:
    """Loss against iteration (log scale), stages one after another, with a legend underneath
    (each stage's name, colour and first -> last loss) that wraps instead of overlapping."""
    w, h = size
    small, label = font(12), font(14)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    entries = [(name, f"{name}: {c[0]:.4g} to {c[-1]:.4g}" if c else f"{name}: no iterations") for name, c in curves.items()]
    boxes = [(18 + text_size(probe, text, label)[0], 18) for _, text in entries]
    pad_l, pad_r, pad_t = 64, 12, 12
    plot_b = h - 36  # bottom of the plot area; the x-axis caption sits under it
    spots = layout_labels(boxes, w - pad_l - pad_r)
    legend_h = (max(y for _, y in spots) + 18 + 8) if spots else 0
    img = Image.new("RGB", (w, h + legend_h), "white")
    draw = ImageDraw.Draw(img)
    values = [v for c in curves.values() for v in c if v > 0 and math.isfinite(v)]
    total = sum(len(c) for c in curves.values())
    draw.rectangle([pad_l, pad_t, w - pad_r, plot_b], outline=INK)
    if values and total > 1:
        lo, hi = math.log10(min(values)), math.log10(max(values))
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5

        def xy(i: float, v: float) -> tuple[float, float]:
            x = pad_l + (w - pad_l - pad_r) * i / max(total - 1, 1)
            y = pad_t + (plot_b - pad_t) * (hi - math.log10(max(v, 1e-12))) / (hi - lo)
            return x, y

        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):  # y ticks: five evenly spaced log levels
            v = 10 ** (hi - frac * (hi - lo))
            y = xy(0, v)[1]
            if 0 < frac < 1:
                draw.line([(pad_l + 1, y), (w - pad_r - 1, y)], fill=GRID)
            tw, th = text_size(draw, f"{v:.3g}", small)
            draw.text((pad_l - 6 - tw, y - th / 2), f"{v:.3g}", fill=INK, font=small)
        start = 0
        for name, curve in curves.items():
            color = STAGE_COLORS.get(name, INK)
            if start:
                x = xy(start - 0.5, values[0])[0]
                draw.line([(x, pad_t + 1), (x, plot_b - 1)], fill=(190, 190, 190))
            pts = [xy(start + k, v) for k, v in enumerate(curve) if v > 0 and math.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=color, width=2)
            elif pts:
                draw.ellipse([pts[0][0] - 3, pts[0][1] - 3, pts[0][0] + 3, pts[0][1] + 3], fill=color)
            start += len(curve)
    caption = "iteration (stages one after another); loss on a log scale"
    cw = text_size(draw, caption, small)[0]
    draw.text(((pad_l + w - pad_r - cw) / 2, plot_b + 8), caption, fill=INK, font=small)
    for (name, text), (x, y) in zip(entries, spots):
        x0, y0 = pad_l + x, h + y
        draw.rectangle([x0, y0 + 3, x0 + 12, y0 + 15], fill=STAGE_COLORS.get(name, INK))
        draw.text((x0 + 18, y0), text, fill=INK, font=label)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(img, path)


def plot_time_curves(curves: Mapping[str, Sequence[Sequence[float]]], levels: Mapping[str, float],
                     size: tuple[int, int] = (420, 260), title: str = "") -> Image.Image:
    """Best loss against seconds, both on log axes, drawn with Pillow.

    ``curves``: name -> ``[seconds, best loss]`` points (drawn as steps, each curve ending at its
    last point); ``levels``: name -> a loss drawn as a grey horizontal line.
    """
    w, h = size
    pad_l, pad_r, pad_t, pad_b = 52, 8, 18, 28
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([pad_l, pad_t, w - pad_r, h - pad_b], outline=(0, 0, 0))
    draw.text((pad_l, 3), title, fill=(0, 0, 0))
    pts = [(t, v) for c in curves.values() for t, v in c if t > 0 and v > 0]
    vals = [v for _, v in pts] + [v for v in levels.values() if v > 0]
    if not pts:
        return img
    t_lo, t_hi = math.log10(min(t for t, _ in pts)), math.log10(max(t for t, _ in pts))
    v_lo, v_hi = math.log10(min(vals)), math.log10(max(vals))
    t_hi, v_hi = max(t_hi, t_lo + 1e-3), max(v_hi, v_lo + 1e-3)

    def xy(t: float, v: float) -> tuple[float, float]:
        x = pad_l + (w - pad_l - pad_r) * (math.log10(max(t, 1e-9)) - t_lo) / (t_hi - t_lo)
        y = pad_t + (h - pad_t - pad_b) * (v_hi - math.log10(max(v, 1e-12))) / (v_hi - v_lo)
        return x, y

    for name, v in levels.items():
        y = xy(10 ** t_lo, v)[1]
        draw.line([(pad_l, y), (w - pad_r, y)], fill=(150, 150, 150), width=1)
        draw.text((w - pad_r - 6 * len(name) - 4, y - 12), name, fill=(110, 110, 110))
    for k, (name, curve) in enumerate(curves.items()):
        color = METHOD_COLORS[k % len(METHOD_COLORS)]
        steps: list[tuple[float, float]] = []
        steps_v = 0.0
        for t, v in curve:
            if t <= 0 or v <= 0:
                continue
            if steps:
                steps.append(xy(t, steps_v))
            steps.append(xy(t, v))
            steps_v = v
        if len(steps) > 1:
            draw.line(steps, fill=color, width=2)
        if steps:
            draw.ellipse([steps[-1][0] - 3, steps[-1][1] - 3, steps[-1][0] + 3, steps[-1][1] + 3], fill=color)
        draw.text((pad_l + 4, pad_t + 2 + 12 * k), name, fill=color)
    draw.text((4, pad_t), f"{10 ** v_hi:.3g}", fill=(0, 0, 0))
    draw.text((4, h - pad_b - 12), f"{10 ** v_lo:.3g}", fill=(0, 0, 0))
    draw.text((pad_l, h - pad_b + 3), f"{10 ** t_lo:.3g} s", fill=(0, 0, 0))
    draw.text((w - pad_r - 60, h - pad_b + 3), f"{10 ** t_hi:.4g} s", fill=(0, 0, 0))
    draw.text((w // 2 - 60, h - 13), "seconds (log), best loss (log)", fill=(0, 0, 0))
    return img


def save_panels(panels: Sequence[Image.Image], path: Path, cols: int = 2) -> Path:
    """Lay equal-sized images out in a grid and save them to ``path``."""
    if not panels:
        raise ValueError("no panels to save")
    w, h = panels[0].size
    rows = -(-len(panels) // cols)
    canvas = Image.new("RGB", (w * min(cols, len(panels)), h * rows), "white")
    for k, panel in enumerate(panels):
        canvas.paste(panel, ((k % cols) * w, (k // cols) * h))
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(canvas, path)


def write_gif(frames_dir: Path, path: Path, ms: int = 120) -> Path | None:
    """Assemble the saved progression frames into an animated GIF."""
    files = sorted(frames_dir.glob("*.png")) if frames_dir.is_dir() else []
    if not files:
        return None
    frames = [Image.open(f).convert("RGB") for f in files]
    frames += [frames[-1]] * 5  # pause on the final frame
    return save_image(frames[0], path, save_all=True, append_images=frames[1:], duration=ms, loop=0)


def comparison(images: Mapping[str, torch.Tensor], path: Path, notes: Mapping[str, str] | None = None,
               min_cell: int = 128) -> Path:
    """Row of images (target, init, stages, final) with each name, and its line of ``notes`` when
    given, centred under it in dark text sized to the images (12-20 px; shortened with "…" to fit).
    Images narrower than ``min_cell`` pixels are enlarged by a whole factor (nearest neighbour)."""
    names = list(images)
    pad = 4
    row = torch.cat([images[n][:1].cpu().clamp(0, 1) for n in names])
    if row.shape[-1] < min_cell:  # small renders are enlarged (whole pixels) so that they and their labels can be read
        row = F.interpolate(row, scale_factor=-(-min_cell // row.shape[-1]), mode="nearest")
    grid = tile_grid(row, cols=len(names), pad=pad)
    pil = to_pil(grid).convert("RGB")
    w, h = pil.size
    cell = (w + pad) / len(names)
    size = int(min(max((cell - pad) // 7, 12), 20))
    name_font, note_font = font(size), font(max(size - 2, 11))
    lines = 2 if notes else 1
    canvas = Image.new("RGB", (w, h + 8 + lines * (size + 6)), "white")
    canvas.paste(pil, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, n in enumerate(names):
        for row, (text, fnt) in enumerate([(n, name_font)] + ([((notes or {}).get(n, ""), note_font)] if notes else [])):
            text = _fit(draw, text, fnt, int(cell - pad - 2))
            tw = text_size(draw, text, fnt)[0]
            draw.text((k * cell + (cell - pad - tw) / 2, h + 4 + row * (size + 6)), text, fill=INK, font=fnt)
    return save_image(canvas, path)

"""Outputs of an optimization run: images, loss curves, progression GIF, report.html."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .atomic import atomic_target
from .gallery import tile_grid
from .io import write_maps, write_png

STAGE_COLORS = {"stage1": (31, 119, 180), "sweep": (148, 103, 189), "stage2": (214, 39, 40), "polish": (255, 127, 14), "stage3": (44, 160, 44)}


def _to_pil(img: torch.Tensor) -> Image.Image:
    arr = (img[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def _atomic_pil_save(img: Image.Image, path: Path, **kwargs: Any) -> None:
    with atomic_target(path) as tmp:
        img.save(tmp, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"), **kwargs)


def plot_curves(curves: Mapping[str, Sequence[float]], path: Path, size: tuple[int, int] = (640, 320)) -> Path:
    """Loss against iteration (log scale), stages one after another, drawn with Pillow."""
    w, h = size
    pad_l, pad_r, pad_t, pad_b = 60, 10, 10, 30
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    values = [v for c in curves.values() for v in c if v > 0 and math.isfinite(v)]
    total = sum(len(c) for c in curves.values())
    draw.rectangle([pad_l, pad_t, w - pad_r, h - pad_b], outline=(0, 0, 0))
    if values and total > 1:
        lo, hi = math.log10(min(values)), math.log10(max(values))
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5

        def xy(i: int, v: float) -> tuple[float, float]:
            x = pad_l + (w - pad_l - pad_r) * i / max(total - 1, 1)
            y = pad_t + (h - pad_t - pad_b) * (hi - math.log10(max(v, 1e-12))) / (hi - lo)
            return x, y

        start = 0
        for name, curve in curves.items():
            pts = [xy(start + k, v) for k, v in enumerate(curve) if v > 0 and math.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=STAGE_COLORS.get(name, (0, 0, 0)), width=2)
            if curve:
                draw.text((xy(start, curve[0])[0] + 3, h - pad_b + 4), name, fill=STAGE_COLORS.get(name, (0, 0, 0)))
            start += len(curve)
        draw.text((4, pad_t), f"{10 ** hi:.3g}", fill=(0, 0, 0))
        draw.text((4, h - pad_b - 12), f"{10 ** lo:.3g}", fill=(0, 0, 0))
    draw.text((w - 150, h - 14), "iteration (log loss)", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_pil_save(img, path)
    return path


METHOD_COLORS = ((214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14))


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
    _atomic_pil_save(canvas, path)
    return path


def write_gif(frames_dir: Path, path: Path, ms: int = 120) -> Path | None:
    """Assemble the saved progression frames into an animated GIF."""
    files = sorted(frames_dir.glob("*.png")) if frames_dir.is_dir() else []
    if not files:
        return None
    frames = [Image.open(f).convert("RGB") for f in files]
    frames += [frames[-1]] * 5  # pause on the final frame
    _atomic_pil_save(frames[0], path, save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return path


def comparison(images: Mapping[str, torch.Tensor], path: Path) -> Path:
    """Row of images (target, init, stages, final) with labels underneath."""
    names = list(images)
    grid = tile_grid(torch.cat([images[n][:1].cpu().clamp(0, 1) for n in names]), cols=len(names), pad=4)
    pil = _to_pil(grid)
    w, h = pil.size
    canvas = Image.new("RGB", (w, h + 18), "white")
    canvas.paste(pil, (0, 0))
    draw = ImageDraw.Draw(canvas)
    cell = (w + 4) / len(names)
    for k, n in enumerate(names):
        draw.text((k * cell + 4, h + 3), n, fill=(0, 0, 0))
    _atomic_pil_save(canvas, path)
    return path


def write_report(out_dir: Path, result: Any, target: torch.Tensor, settings: Mapping[str, Any]) -> dict[str, Path]:
    """Write every output of a run into ``out_dir``; returns {kind: path}."""
    from .optimize.stages import OptimizeResult

    assert isinstance(result, OptimizeResult)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    graph = result.graph
    paths["graph"] = graph.save(out_dir / "graph.json")
    res = int(target.shape[-1])
    with torch.no_grad():
        maps = graph.evaluate(res)
    for p in write_maps({k: v[:1].cpu() for k, v in maps.items()}, out_dir / "maps"):
        paths[f"map_{Path(p).stem}"] = Path(p)
    paths["render"] = write_png(out_dir / "render.png", result.renders["final"][:1].cpu())
    paths["target"] = write_png(out_dir / "target.png", target[:1].cpu())
    shown = {"target": target}
    shown.update({k: v for k, v in result.renders.items() if k != "final"})
    shown["final"] = result.renders["final"]
    paths["comparison"] = comparison(shown, out_dir / "comparison.png")
    paths["curves"] = plot_curves({r.name: r.curve for r in result.records}, out_dir / "loss_curves.png")
    gif = write_gif(out_dir / "frames", out_dir / "progression.gif")
    if gif:
        paths["gif"] = gif
    summary = {
        "loss_final": result.loss_final,
        "seconds": round(result.seconds, 2),
        "stages": [{"name": r.name, "loss_start": r.loss_start, "loss_end": r.loss_end, "iterations": len(r.curve),
                    "seconds": round(r.seconds, 2), "note": r.note} for r in result.records],
        "settings": settings,
    }
    from .atomic import atomic_write_text

    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    paths["summary"] = out_dir / "summary.json"
    paths["report"] = _write_html(out_dir, paths, summary, graph.name, ", ".join(shown))
    return paths


def _write_html(out_dir: Path, paths: Mapping[str, Path], summary: Mapping[str, Any], name: str,
                comparison_order: str = "") -> Path:
    from .atomic import atomic_write_text

    def rel(key: str) -> str:
        return html.escape(paths[key].relative_to(out_dir).as_posix())

    rows = "".join(
        f"<tr><td>{html.escape(s['name'])}</td><td>{s['loss_start']:.4f}</td><td>{s['loss_end']:.4f}</td>"
        f"<td>{s['iterations']}</td><td>{s['seconds']:.1f}</td><td>{html.escape(s['note'])}</td></tr>"
        for s in summary["stages"])
    maps = "".join(f"<figure><img src='{rel(k)}' width=160><figcaption>{html.escape(k[4:])}</figcaption></figure>"
                   for k in paths if k.startswith("map_"))
    gif = f"<h2>Progression</h2><img src='{rel('gif')}' width=256>" if "gif" in paths else ""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>proxymat: {html.escape(name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}figure{{display:inline-block;margin:4px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}img{{image-rendering:pixelated}}</style></head>
<body><h1>proxymat: {html.escape(name)}</h1>
<p>Final loss {summary['loss_final']:.4f} in {summary['seconds']:.1f} s. Optimized graph: <a href='{rel('graph')}'>{rel('graph')}</a>.</p>
<h2>Target, initial, stages, final</h2><img src='{rel('comparison')}' style='max-width:100%'>
<p>Left to right: {html.escape(comparison_order)}.</p>
<h2>Stages</h2><table><tr><th>stage</th><th>loss start</th><th>loss end</th><th>iterations</th><th>seconds</th><th>note</th></tr>{rows}</table>
<h2>Loss curves</h2><img src='{rel('curves')}'>
{gif}
<h2>Maps</h2>{maps}
<h2>Settings</h2><pre>{html.escape(json.dumps(summary['settings'], indent=2, default=str))}</pre>
</body></html>
"""
    path = out_dir / "report.html"
    atomic_write_text(path, page)
    return path

"""An offline, interactive 3D preview of SVBRDF maps: one self-contained HTML page.

:func:`preview_page` returns the page: the fitted maps on a plane or a sphere,
orbited with the mouse, lit by a point light that sits at the camera (the
photos' flash) or moves on its own, shaded with :mod:`proxymat.render`'s model
and settings (``viewer.js`` beside this file, plain WebGL). The maps (and the
target photo, when given) are embedded as PNG data URIs and a Content Security
Policy forbids every request, so the page works from a file, offline, and
fetches nothing. :func:`write_preview` writes it.

Textures: the basecolor, the normal map and one texture holding roughness (red)
and metallic (green), each resized to a square power of two (at most
``max_px``) so that WebGL 1 can tile and mipmap them.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from string import Template
from typing import Mapping

import numpy as np
import torch
from PIL import Image

from ..atomic import atomic_write_text
from ..render import REQUIRED_MAPS, RenderSettings

CANVAS_PX = 512


def _pot(n: int, max_px: int) -> int:
    """The power of two nearest to ``n`` (ties go up), within [4, max_px]."""
    p = 4
    while p < max_px and abs(p * 2 - n) <= abs(p - n):
        p *= 2
    return p


def _rgb(img: torch.Tensor) -> np.ndarray:
    """First image of a (B, C, H, W) tensor in [0, 1] as (H, W, 3) uint8; 1 channel is repeated."""
    x = img.detach()[:1].float().clamp(0, 1).cpu()
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"preview: expected a (B, 1 or 3, H, W) image, got shape {tuple(img.shape)}")
    arr = (x[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr


def png_data_uri(rgb: np.ndarray, size: int | None = None) -> str:
    """A ``data:image/png;base64,...`` URI of an (H, W, 3) uint8 image, resized to ``size``² if given."""
    pil = Image.fromarray(rgb, "RGB")
    if size is not None and pil.size != (size, size):
        pil = pil.resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def map_textures(maps: Mapping[str, torch.Tensor], max_px: int = 1024) -> dict[str, str]:
    """The three textures the viewer reads, as data URIs: ``basecolor``, ``normal`` and ``rm``."""
    missing = [k for k in REQUIRED_MAPS if k not in maps]
    if missing:
        raise ValueError(f"preview: missing map(s) {missing}; got keys {sorted(maps)}")
    h, w = maps["basecolor"].shape[-2:]
    size = _pot(max(int(h), int(w)), max_px)
    rough, metal = _rgb(maps["roughness"])[..., 0], _rgb(maps["metallic"])[..., 0]
    if metal.shape != rough.shape:  # a constant output may come at another size
        metal = np.asarray(Image.fromarray(metal).resize(rough.shape[::-1], Image.Resampling.BILINEAR))
    rm = np.stack([rough, metal, np.zeros_like(rough)], axis=2)
    return {"basecolor": png_data_uri(_rgb(maps["basecolor"]), size),
            "normal": png_data_uri(_rgb(maps["normal"]), size),
            "rm": png_data_uri(rm, size)}


def _figure(img: torch.Tensor, caption: str, px: int) -> str:
    return (f"<figure><img class='target' alt='{html.escape(caption)}' src='{png_data_uri(_rgb(img))}' "
            f"width='{px}' height='{px}'><figcaption>{html.escape(caption)}</figcaption></figure>")


def preview_page(maps: Mapping[str, torch.Tensor], title: str = "proxymat preview",
                 target: torch.Tensor | None = None, render: torch.Tensor | None = None,
                 settings: RenderSettings = RenderSettings(), canvas_px: int = CANVAS_PX, max_px: int = 1024) -> str:
    """The preview page of ``maps`` (``(B, C, H, W)`` in [0, 1], the renderer's keys), with the
    ``target`` photo and proxymat's ``render`` of the fit shown beside it when given."""
    data = {"maps": map_textures(maps, max_px), "settings": asdict(settings)}
    figures = "".join(_figure(img, caption, canvas_px) for img, caption in
                      ((target, "Target photo"), (render, "proxymat's render of the fit (flash)")) if img is not None)
    template = Template(resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8"))
    script = resources.files(__package__).joinpath("viewer.js").read_text(encoding="utf-8")
    return template.substitute(title=html.escape(title), canvas=int(canvas_px), target=figures,
                               data=json.dumps(data).replace("</", "<\\/"), script=script)


def write_preview(path: Path, maps: Mapping[str, torch.Tensor], title: str = "proxymat preview",
                  target: torch.Tensor | None = None, render: torch.Tensor | None = None,
                  settings: RenderSettings = RenderSettings(), canvas_px: int = CANVAS_PX) -> Path:
    """Write :func:`preview_page` to ``path`` (atomically); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, preview_page(maps, title, target, render, settings, canvas_px))
    return path

"""Render the library's thumbnails, their index, the contact sheet and the table of docs/library.md.

Run from the repository root after changing a graph (tools/make_library.py):

    .venv/bin/python tools/make_library_thumbs.py

Writes src/proxymat/library/thumbs/NAME.png (128 px, proxymat.library.thumbnail),
thumbs/index.json (the SHA-256 of each graph file the thumbnail was made from:
tests/test_library.py fails on a stale thumbnail), docs/figures/library.png (all
thumbnails with their names) and the table between the markers of docs/library.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from proxymat.atomic import atomic_write_text
from proxymat.graph import Graph
from proxymat.io import write_png
from proxymat.library import GRAPHS, THUMBS, list_materials
from proxymat.library.thumbnail import thumbnail

ROOT = Path(__file__).resolve().parent.parent
SHEET = ROOT / "docs" / "figures" / "library.png"
DOC = ROOT / "docs" / "library.md"
BEGIN, END = "<!-- library-table:begin -->", "<!-- library-table:end -->"
COLS, LABEL = 8, 16


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contact_sheet(entries: list, images: dict[str, np.ndarray]) -> Image.Image:
    """All thumbnails on a grid, each with its name underneath."""
    size = next(iter(images.values())).shape[0]
    rows = math.ceil(len(entries) / COLS)
    sheet = Image.new("RGB", (COLS * (size + 4) + 4, rows * (size + LABEL + 4) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, e in enumerate(entries):
        r, c = divmod(k, COLS)
        x, y = 4 + c * (size + 4), 4 + r * (size + LABEL + 4)
        sheet.paste(Image.fromarray(images[e.name]), (x, y))
        draw.text((x + 2, y + size + 2), e.name, fill="black", font=font)
    return sheet


def table(entries: list) -> str:
    lines = ["| | name | category | nodes | free | description |", "|---|---|---|---|---|---|"]
    for e in entries:
        thumb = f"![{e.name}](../src/proxymat/library/thumbs/{e.name}.png)"
        lines.append(f"| {thumb} | `{e.name}` | {e.category} | {e.nodes} | {len(e.free)} | {e.description} |")
    return "\n".join(lines)


def main() -> int:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    THUMBS.mkdir(parents=True, exist_ok=True)
    entries = list_materials()
    index, images = {}, {}
    for e in entries:
        img = thumbnail(Graph.load(e.graph_path))
        write_png(e.thumbnail_path, img)
        images[e.name] = np.asarray(Image.open(e.thumbnail_path).convert("RGB"))
        index[e.name] = file_hash(e.graph_path)
        print(f"{e.name:<24} {e.thumbnail_path.stat().st_size:>6} bytes")
    for stale in THUMBS.glob("*.png"):
        if stale.stem not in index:
            stale.unlink()
    atomic_write_text(THUMBS / "index.json", json.dumps(index, indent=1, sort_keys=True) + "\n")
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(entries, images).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(SHEET, optimize=True)
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    atomic_write_text(DOC, f"{head}{BEGIN}\n{table(entries)}\n{END}{tail}")
    print(f"{len(entries)} thumbnails, {SHEET.relative_to(ROOT)}, {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

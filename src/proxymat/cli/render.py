"""``proxymat render``: evaluate a graph and write its maps and flash render."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_plugin_argument, load_graph, map_res, torch_device


def run_render(args: argparse.Namespace) -> int:
    """Write the graph's maps and ``render.png`` into the output folder; print each path."""
    import torch

    from ..io import write_maps, write_png
    from ..render import RenderSettings, render

    graph = load_graph(args.graph)
    device = torch_device(args.device)
    settings = RenderSettings(model=args.model, normal_format="gl")
    with torch.no_grad():
        maps = graph.evaluate(args.res, device=device)
        image = render(maps, settings)
    out = Path(args.output)
    written = write_maps({k: v[0:1].cpu() for k, v in maps.items()}, out, bits=args.bits, normal_format=args.normal_format)
    render_path = out / "render.png"
    write_png(render_path, image[0:1].cpu(), bits=8)
    for p in [*written, render_path]:
        print(p)
    return 0


def register(sub: Any) -> None:
    """Add ``render`` to an argparse sub-parser collection."""
    p = sub.add_parser("render", help="evaluate a graph and write its maps and flash render")
    p.add_argument("graph", help="graph JSON file, bundled example name or library material name")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--res", type=map_res, default=256, help="map resolution in pixels (default 256)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bit depth of color maps (height/normal are 16-bit)")
    p.add_argument("--normal-format", choices=("gl", "dx"), default="gl",
                   help="convention of the written normal map: gl (OpenGL, +Y up; default) or dx (DirectX)")
    p.add_argument("--model", choices=("match", "cook_torrance"), default="match", help="render model")
    add_plugin_argument(p)
    p.set_defaults(func=run_render)

"""``proxymat export``: write a graph's maps plus MaterialX / glTF 2.0 documents."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_plugin_argument, load_graph, map_res, torch_device


def run_export(args: argparse.Namespace) -> int:
    """Evaluate the graph and export it; prints each written path."""
    from ..export import export_material

    device = torch_device(args.device)
    graph = load_graph(args.graph)
    written = export_material(graph, Path(args.output), res=args.res, formats=tuple(args.format or ()),
                              normal_format=args.normal_format, bits=args.bits, exr=args.exr, name=args.name,
                              shader=args.shader, height_scale=args.height_scale, plane=args.plane,
                              device=device)
    for path in written.values():
        print(path)
    return 0


def register(sub: Any) -> None:
    """Add ``export`` to an argparse sub-parser collection."""
    p = sub.add_parser("export", help="write texture maps plus MaterialX (.mtlx) and glTF 2.0 (.gltf) files")
    p.add_argument("graph", help="graph JSON file, bundled example name or library material name")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--res", type=map_res, default=1024, help="map resolution in pixels (default 1024)")
    p.add_argument("--format", nargs="*", choices=("mtlx", "gltf"), default=["mtlx", "gltf"],
                   help="documents to write (default both; none: maps only)")
    p.add_argument("--normal-format", choices=("gl", "dx"), default="gl",
                   help="convention of the loose normal map (documents always use gl)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8,
                   help="bit depth of basecolor/roughness/metallic/orm (normal and height are 16-bit)")
    p.add_argument("--exr", action="store_true", help="also write float EXR height and normal maps")
    p.add_argument("--shader", choices=("standard_surface", "gltf_pbr"), default="standard_surface",
                   help="MaterialX surface shader")
    p.add_argument("--plane", choices=("floor", "wall"), default="floor",
                   help="how the glTF quad lies: floor (XZ plane facing +Y, glTF's up; default) or wall "
                        "(XY plane facing +Z)")
    p.add_argument("--height-scale", type=float, default=None, metavar="UNITS",
                   help="add a MaterialX displacement of (height - 0.5) * UNITS")
    p.add_argument("--device", default="cpu", help="device that evaluates the graph")
    p.add_argument("--name", default=None, help="document base name (default: the graph's name)")
    add_plugin_argument(p)
    p.set_defaults(func=run_export)

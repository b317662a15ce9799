"""Build the bundled example graphs and their synthetic targets.

Each example is a graph at its starting parameters plus a "truth" variant with
other parameter values; the truth graph is rendered at 256x256 with the real
generators to give the example's target photo. Run from the repository root:

    .venv/bin/python tools/make_examples.py

It rewrites src/proxymat/examples/NAME.json, NAME.target.json, NAME.target.png.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch

from proxymat.graph import Graph
from proxymat.io import write_png
from proxymat.render import render

OUT = Path(__file__).resolve().parent.parent / "src" / "proxymat" / "examples"
Builder = Callable[[], tuple[Graph, dict[str, object]]]


def finish(g: Graph, height: object, color: object, rough: object, metallic: float = 0.0) -> None:
    """Route the standard outputs (the normal map comes from the node named "normal")."""
    g.set_output("basecolor", color)
    g.set_output("normal", "normal")
    g.set_output("roughness", rough)
    g.set_output("metallic", metallic)
    g.set_output("height", height)


def leather() -> tuple[Graph, dict[str, object]]:
    g = Graph("leather", description="Grained leather: Voronoi cell creases (cells proxy) with a soft color ramp.")
    cells = g.add("cells", name="grain", scale=10, disorder=0.8, style="f2_minus_f1")
    h = g.add("levels", name="height_levels", input=cells, in_low=0.0, in_high=0.6)
    hb = g.add("blur", name="soften", input=h, radius=0.003)
    g.add("height_to_normal", name="normal", input=hb, intensity=1.5)
    col = g.add("gradient_map", name="color", input=hb, color_1=(0.12, 0.06, 0.03), color_2=(0.30, 0.16, 0.08),
                color_3=(0.45, 0.26, 0.14), color_4=(0.55, 0.35, 0.20))
    rough = g.add("levels", name="rough_levels", input=hb, out_low=0.45, out_high=0.75)
    finish(g, hb, col, rough)
    truth = {"grain.scale": 14, "grain.disorder": 0.95, "height_levels.in_high": 0.45, "normal.intensity": 2.5,
             "color.color_2": (0.22, 0.10, 0.05), "color.color_3": (0.32, 0.17, 0.09), "rough_levels.out_low": 0.35}
    return g, truth


def scratched_metal() -> tuple[Graph, dict[str, object]]:
    g = Graph("scratched_metal", description="Brushed metal with scratches (scratches proxy) over cloudy roughness.")
    sc = g.add("scratches", name="scratches", spline_number=96, spline_scale=0.3, spline_width=1.0)
    cl = g.add("clouds", name="clouds", scale=4, octaves=5)
    mix = g.add("blend", name="rough_mix", foreground=sc, background=cl, mode="max", opacity=0.7)
    rough = g.add("levels", name="rough_levels", input=mix, out_low=0.25, out_high=0.6)
    hgt = g.add("invert", name="grooves", input=sc)
    g.add("height_to_normal", name="normal", input=hgt, intensity=0.5)
    col = g.add("uniform_color", name="metal", color=(0.6, 0.6, 0.62))
    finish(g, hgt, col, rough, metallic=1.0)
    truth = {"scratches.spline_number": 160, "scratches.spline_rotation_random": 0.2, "scratches.spline_scale": 0.45,
             "rough_levels.out_low": 0.15, "metal.color": (0.7, 0.68, 0.64), "normal.intensity": 0.9}
    return g, truth


def ceramic_tiles() -> tuple[Graph, dict[str, object]]:
    g = Graph("ceramic_tiles", description="Glazed ceramic tiles: rounded tiles (tile_paraboloid proxy) thresholded into grout lines.")
    t = g.add("tile_paraboloid", name="tiles", x_amount=4, y_amount=4, scale=1.0, blending_mode="max")
    shape = g.add("threshold", name="tile_shape", input=t, threshold=0.15, softness=0.05)
    g.add("height_to_normal", name="normal", input=shape, intensity=1.0)
    col = g.add("gradient_map", name="color", input=shape, color_1=(0.55, 0.55, 0.5), color_2=(0.55, 0.55, 0.5),
                color_3=(0.15, 0.45, 0.35), color_4=(0.2, 0.5, 0.4))
    rough = g.add("levels", name="rough_levels", input=shape, out_low=0.8, out_high=0.15)
    finish(g, shape, col, rough)
    truth = {"tiles.x_amount": 6, "tiles.y_amount": 6, "tile_shape.threshold": 0.25, "color.color_3": (0.35, 0.25, 0.55),
             "color.color_4": (0.4, 0.3, 0.6), "rough_levels.out_high": 0.3}
    return g, truth


def bricks() -> tuple[Graph, dict[str, object]]:
    g = Graph("bricks", description="Red brick wall: brick generator with noisy color and mortar.")
    br = g.add("brick_generator", name="bricks", bricks_x=4, bricks_y=8, gap_x=0.05, gap_y=0.1, bevel=0.3)
    nz = g.add("clouds", name="dirt", scale=8, octaves=4)
    hgt = g.add("blend", name="height_mix", foreground=nz, background=br, mode="multiply", opacity=0.3)
    g.add("height_to_normal", name="normal", input=hgt, intensity=2.0)
    col = g.add("gradient_map", name="color", input=hgt, color_1=(0.45, 0.42, 0.38), color_2=(0.35, 0.12, 0.08),
                color_3=(0.5, 0.2, 0.12), color_4=(0.6, 0.3, 0.2))
    rough = g.add("levels", name="rough_levels", input=hgt, out_low=0.9, out_high=0.6)
    finish(g, hgt, col, rough)
    truth = {"bricks.bricks_x": 3, "bricks.bricks_y": 10, "bricks.gap_x": 0.08, "bricks.height_random": 0.3,
             "color.color_3": (0.55, 0.28, 0.15), "normal.intensity": 3.0}
    return g, truth


def pavement() -> tuple[Graph, dict[str, object]]:
    g = Graph("pavement", description="Arc pavement of grey stones.")
    ap = g.add("arc_pavement", name="stones", pattern_amount=6, arcs_amount=8)
    bl = g.add("blur", name="soften", input=ap, radius=0.002)
    g.add("height_to_normal", name="normal", input=bl, intensity=2.0)
    col = g.add("gradient_map", name="color", input=bl, color_1=(0.15, 0.15, 0.15), color_2=(0.35, 0.34, 0.32),
                color_3=(0.5, 0.48, 0.45), color_4=(0.6, 0.58, 0.55))
    rough = g.add("levels", name="rough_levels", input=bl, out_low=0.9, out_high=0.55)
    finish(g, bl, col, rough)
    truth = {"stones.pattern_amount": 4, "stones.arcs_amount": 6, "stones.pattern_height_decrease": 0.4,
             "color.color_3": (0.55, 0.45, 0.35), "normal.intensity": 3.0}
    return g, truth


def plaster() -> tuple[Graph, dict[str, object]]:
    g = Graph("plaster", description="Rough painted plaster: fractal clouds (clouds proxy) as bumps.")
    cl = g.add("clouds", name="bumps", scale=8, octaves=6, roughness=0.5)
    hs = g.add("histogram_scan", name="scan", input=cl, position=0.5, contrast=0.3)
    g.add("height_to_normal", name="normal", input=hs, intensity=0.25)
    col = g.add("gradient_map", name="color", input=hs, color_1=(0.7, 0.66, 0.58), color_2=(0.75, 0.7, 0.62),
                color_3=(0.8, 0.76, 0.68), color_4=(0.85, 0.8, 0.72))
    rough = g.add("levels", name="rough_levels", input=hs, out_low=0.85, out_high=0.7)
    finish(g, hs, col, rough)
    truth = {"bumps.scale": 4, "bumps.roughness": 0.4, "scan.contrast": 0.6, "normal.intensity": 0.5,
             "color.color_2": (0.62, 0.58, 0.5), "color.color_4": (0.78, 0.72, 0.6)}
    return g, truth


def stone() -> tuple[Graph, dict[str, object]]:
    g = Graph("stone", description="Speckled stone: cells (F1) mixed with clouds, color by gradient map.")
    ce = g.add("cells", name="cells", scale=6, disorder=0.9, style="f1")
    cl = g.add("clouds", name="clouds", scale=8, octaves=6)
    mix = g.add("blend", name="mix", foreground=ce, background=cl, mode="overlay", opacity=0.6)
    g.add("height_to_normal", name="normal", input=mix, intensity=0.4)
    col = g.add("gradient_map", name="color", input=mix, color_1=(0.1, 0.1, 0.1), color_2=(0.25, 0.24, 0.22),
                color_3=(0.4, 0.38, 0.35), color_4=(0.7, 0.68, 0.64))
    rough = g.add("levels", name="rough_levels", input=mix, out_low=0.7, out_high=0.4)
    finish(g, mix, col, rough)
    truth = {"cells.scale": 10, "cells.disorder": 0.6, "mix.opacity": 0.8, "color.color_2": (0.18, 0.16, 0.15),
             "color.color_4": (0.8, 0.78, 0.74), "rough_levels.out_high": 0.25}
    return g, truth


def fabric() -> tuple[Graph, dict[str, object]]:
    g = Graph("fabric", description="Knit fabric: PPTBF cross tiling (pptbf proxy) as the stitches.")
    pp = g.add("pptbf", name="weave", tiling=10, zoom=4.0, jitter=0.0)
    bl = g.add("blur", name="soften", input=pp, radius=0.002)
    g.add("height_to_normal", name="normal", input=bl, intensity=1.0)
    col = g.add("gradient_map", name="color", input=bl, color_1=(0.1, 0.12, 0.25), color_2=(0.15, 0.2, 0.4),
                color_3=(0.35, 0.45, 0.7), color_4=(0.5, 0.55, 0.8))
    rough = g.add("levels", name="rough_levels", input=bl, out_low=0.95, out_high=0.75)
    finish(g, bl, col, rough)
    truth = {"weave.zoom": 6.0, "color.color_3": (0.65, 0.25, 0.2), "color.color_4": (0.8, 0.35, 0.3),
             "normal.intensity": 2.0}
    return g, truth


EXAMPLES: dict[str, Builder] = {f.__name__: f for f in (leather, scratched_metal, ceramic_tiles, bricks, pavement, plaster, stone, fabric)}


def build(name: str, res: int = 256) -> None:
    graph, truth = EXAMPLES[name]()
    graph.validate()
    target_graph = graph.copy()
    for key, value in truth.items():
        node, _, param = key.partition(".")
        target_graph.set_param(node, param, value)
    graph.save(OUT / f"{name}.json")
    target_graph.save(OUT / f"{name}.target.json")
    with torch.no_grad():
        img = render(target_graph.evaluate(res))
    write_png(OUT / f"{name}.target.png", img)
    print(f"{name}: {len(graph.nodes)} nodes, {len(truth)} changed parameters")


if __name__ == "__main__":
    for n in sys.argv[1:] or list(EXAMPLES):
        build(n)

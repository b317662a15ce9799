"""Bark and cork."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def bark() -> Graph:
    m = Material("bark", "bark", "Furrowed tree bark (oak-like): long vertical ridges split by deep fissures, "
                 "grey-brown plates with greenish moss in the cracks.")
    plates = m.add("cells", "plates", scale=3, disorder=1.0, style="f2_minus_f1", seed=4, free={"scale": (2, 8)})
    tall = m.add("transform_2d", "tall", input=plates, scale=[0.25, 1.0])
    fissures = m.add("cells", "fissures", scale=5, disorder=1.0, style="edges", edge_width=0.08, seed=5)
    tall_f = m.add("transform_2d", "tall_fissures", input=fissures, scale=[0.25, 1.0])
    ridges = m.add("levels", "ridges", input=tall, in_low=0.0, in_high=0.4, free={"in_high": (0.15, 0.8)})
    split = m.add("blend", "split", foreground=tall_f, background=ridges, mode="subtract", opacity=0.5,
                  free={"opacity": (0.0, 1.0)})
    fibre = m.add("spectral_noise", "fibre", seed=6, scale=0.003, anisotropy=0.95, angle=0.25)
    bend = m.add("clouds", "bend", scale=3, octaves=3, roughness=0.5, seed=7)
    bent = m.add("warp", "bent", input=split, intensity_input=bend, intensity=0.3)
    height = m.add("blend", "height", foreground=fibre, background=bent, mode="overlay", opacity=0.3)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    tone = m.ramp("tone", height, ((0.10, 0.08, 0.06), (0.28, 0.23, 0.18), (0.42, 0.37, 0.31), (0.55, 0.51, 0.45)),
                  free={"color_1": (0.0, 0.4), "color_2": (0.05, 0.7), "color_3": (0.1, 0.8), "color_4": (0.1, 0.9)})
    moss_m = m.add("dirt", "moss_mask", height=height, noise=bend, amount=0.5, width=0.03, free={"amount": (0.0, 1.0)})
    moss = m.add("uniform_color", "moss", color=(0.22, 0.28, 0.10), free={"color": (0.02, 0.6)})
    mossy = m.add("blend", "mossy", foreground=moss, background=tone, mask=moss_m, mode="copy", opacity=0.6)
    ao = m.add("ambient_occlusion", "occlusion", input=height, radius=0.02, intensity=1.5)
    color = m.add("blend", "color", foreground=ao, background=mossy, mode="multiply", opacity=0.7)
    rough = m.add("uniform_gray", "roughness", value=0.92)
    return m.finish(color=color, height=height, rough=rough)


def cork() -> Graph:
    m = Material("cork", "cork", "Agglomerated cork board: pressed granules in tan and brown with dark pores "
                 "between them, matte and soft.")
    granules = m.add("cells", "granules", scale=24, disorder=1.0, style="f2_minus_f1", seed=2, free={"scale": (12, 48)})
    ids = m.add("cells", "granule_ids", scale=24, disorder=1.0, style="cell_random", seed=2)
    small = m.add("cells", "small_granules", scale=48, disorder=1.0, style="cell_random", seed=3)
    tones = m.add("blend", "tone_mix", foreground=small, background=ids, mode="copy", opacity=0.3)
    dome = m.add("levels", "dome", input=granules, in_low=0.0, in_high=0.25, free={"in_high": (0.1, 0.5)})
    pores_src = m.add("spectral_noise", "pore_noise", seed=4, scale=0.002)
    pores = m.add("threshold", "pores", input=pores_src, threshold=0.2, softness=0.03, free={"threshold": (0.05, 0.4)})
    height = m.add("blend", "height", foreground=pores, background=dome, mode="multiply", opacity=0.6)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    tone = m.ramp("tone", tones, ((0.36, 0.22, 0.12), (0.50, 0.33, 0.19), (0.62, 0.44, 0.27), (0.72, 0.55, 0.36)),
                  free={"color_1": (0.05, 0.7), "color_2": (0.05, 0.8), "color_3": (0.1, 0.9), "color_4": (0.1, 1.0)})
    pore_col = m.add("uniform_color", "pore_color", color=(0.12, 0.07, 0.04))
    pored = m.add("blend", "pored", foreground=pore_col, background=tone, mask=m.add("invert", "pore_mask", input=pores),
                  mode="copy", opacity=0.8)
    gaps = m.add("threshold", "gaps", input=granules, threshold=0.04, softness=0.02)
    color = m.add("blend", "color", foreground=pored, background=pore_col, mask=gaps, mode="copy")
    rough = m.add("uniform_gray", "roughness", value=0.9, free={"value": (0.6, 1.0)})
    return m.finish(color=color, height=height, rough=rough)


RECIPES = (bark, cork)

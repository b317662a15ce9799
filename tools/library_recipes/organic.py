"""Bark and cork."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def bark() -> Graph:
    m = Material("bark", "bark", "Furrowed tree bark (oak-like): long meandering vertical ridges that split "
                 "and rejoin around deep fissures, grey-brown plates with greenish moss in the cracks.")
    ridge_src = m.add("spectral_noise", "ridge_noise", seed=4, scale=0.012, anisotropy=0.85, angle=0.25,
                      free={"scale": (0.006, 0.03), "anisotropy": (0.6, 0.95)})
    ridges = m.add("sigmoid_contrast", "ridges", input=ridge_src, contrast=0.8, pivot=0.45)
    plates = m.add("levels", "plates", input=ridges, in_low=0.3, in_high=1.0, in_mid=0.35, free={"in_low": (0.1, 0.5)})
    breaks = m.add("cells", "breaks", scale=5, disorder=1.0, style="edges", edge_width=0.06, seed=5)
    tall_breaks = m.add("transform_2d", "tall_breaks", input=breaks, scale=[0.5, 1.0])
    split = m.add("blend", "split", foreground=tall_breaks, background=plates, mode="subtract", opacity=0.4,
                  free={"opacity": (0.0, 1.0)})
    bend = m.add("clouds", "bend", scale=3, octaves=3, roughness=0.5, seed=7)
    bent = m.add("warp", "bent", input=split, intensity_input=bend, intensity=0.3)
    fibre = m.add("spectral_noise", "fibre", seed=6, scale=0.003, anisotropy=0.95, angle=0.25)
    height0 = m.add("blend", "fibrous", foreground=fibre, background=bent, mode="overlay", opacity=0.5)
    height = m.add("slope_blur", "height", input=height0, slope=bend, intensity=0.3, samples=8)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    tone = m.ramp("tone", height, ((0.06, 0.05, 0.04), (0.20, 0.17, 0.14), (0.32, 0.29, 0.25), (0.45, 0.42, 0.37)),
                  free={"color_1": (0.0, 0.4), "color_2": (0.05, 0.7), "color_3": (0.1, 0.8), "color_4": (0.1, 0.9)})
    moss_m = m.add("dirt", "moss_mask", height=height, noise=bend, amount=0.15, width=0.02, free={"amount": (0.0, 1.0)})
    moss = m.add("uniform_color", "moss", color=(0.22, 0.28, 0.10), free={"color": (0.02, 0.6)})
    mossy = m.add("blend", "mossy", foreground=moss, background=tone, mask=moss_m, mode="copy", opacity=0.3)
    ao = m.add("ambient_occlusion", "occlusion", input=height, radius=0.02, intensity=1.5)
    color = m.add("blend", "color", foreground=ao, background=mossy, mode="multiply", opacity=0.7)
    rough = m.add("uniform_gray", "roughness", value=0.92)
    return m.finish(color=color, height=height, rough=rough)


def cork() -> Graph:
    m = Material("cork", "cork", "Agglomerated cork board: pressed granules in tan and brown with dark pores "
                 "between them, matte and soft.")
    granules = m.add("cells", "granules", scale=24, disorder=1.0, style="f2_minus_f1", seed=2, free={"scale": (12, 48)})
    outline = m.add("threshold", "outline", input=granules, threshold=0.04, softness=0.001)
    ids = m.add("flood_fill_random", "granule_ids", input=outline, amount=1.0, threshold=0.5, seed=2)
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
    color = m.add("blend", "color", foreground=pored, background=pore_col, mask=outline, mode="copy")
    rough = m.add("uniform_gray", "roughness", value=0.9, free={"value": (0.6, 1.0)})
    return m.finish(color=color, height=height, rough=rough)


RECIPES = (bark, cork)

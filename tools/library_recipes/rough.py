"""Concrete, plaster, rock, gravel, asphalt, sand and soil: rough, mostly isotropic surfaces."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def concrete() -> Graph:
    m = Material("concrete", "concrete", "Cast concrete: blotchy grey with darker water stains, small air "
                 "pits and a fine sandy relief.")
    blotch = m.add("clouds", "blotches", scale=4, octaves=6, roughness=0.6, seed=1)
    stains = m.add("clouds", "stains", scale=2, octaves=5, roughness=0.55, seed=2)
    stain_m = m.add("smoothstep", "stain_mask", input=stains, low=0.55, high=0.8, free={"low": (0.3, 0.7)})
    sand = m.add("spectral_noise", "sand", seed=3, scale=0.004, free={"scale": (0.002, 0.01)})
    pits = m.add("tile_paraboloid", "pits", x_amount=20, y_amount=20, scale=0.35, scale_random=0.6,
                 position_random=1.0, random_mask=0.7, seed=4, free={"scale": (0.1, 0.7), "random_mask": (0.3, 0.95)})
    pit_m = m.add("threshold", "pit_mask", input=pits, threshold=0.15, softness=0.05)
    low_blotch = m.add("levels", "blotch_relief", input=blotch, out_low=0.4, out_high=0.6)
    relief = m.add("blend", "relief", foreground=sand, background=low_blotch, mode="overlay", opacity=0.5)
    height = m.add("blend", "height", foreground=pits, background=relief, mode="subtract", opacity=0.3,
                   free={"opacity": (0.0, 1.0)})
    m.add("height_to_normal", "normal", input=height, intensity=0.3, free={"intensity": (0.05, 1.5)})
    tone = m.ramp("tone", blotch, ((0.42, 0.42, 0.41), (0.52, 0.52, 0.50), (0.58, 0.58, 0.56), (0.66, 0.66, 0.64)),
                  free={"color_2": (0.1, 0.9), "color_3": (0.1, 0.9)})
    speckled = m.add("blend", "speckled", foreground=sand, background=tone, mode="overlay", opacity=0.25)
    stained = m.add("blend", "stained", foreground=m.add("uniform_color", "stain_color", color=(0.35, 0.35, 0.33)),
                    background=speckled, mask=stain_m, mode="multiply", opacity=0.5)
    color = m.add("blend", "color", foreground=m.add("uniform_color", "pit_color", color=(0.2, 0.2, 0.2)),
                  background=stained, mask=pit_m, mode="copy", opacity=0.6)
    rough = m.add("levels", "roughness", input=sand, out_low=0.95, out_high=0.8, free={"out_high": (0.5, 1.0)})
    return m.finish(color=color, height=height, rough=rough)


def plaster_stucco() -> Graph:
    m = Material("plaster_stucco", "plaster", "Beige sand-finish stucco: dense fine bumps, faint trowel swirls "
                 "and a slightly mottled matte colour.")
    bumps = m.add("clouds", "bumps", scale=56, octaves=2, roughness=0.55, seed=1, free={"scale": (24, 64)})
    finer = m.add("spectral_noise", "sand", seed=4, scale=0.003, free={"scale": (0.002, 0.01)})
    swirl_src = m.add("clouds", "swirl", scale=3, octaves=3, roughness=0.5, seed=2)
    swirled = m.add("warp", "trowel", input=bumps, intensity_input=swirl_src, intensity=0.15,
                    free={"intensity": (0.0, 0.6)})
    sharp = m.add("sigmoid_contrast", "crisp", input=swirled, contrast=0.3, pivot=0.5, free={"contrast": (0.0, 1.0)})
    relief = m.add("blend", "relief", foreground=finer, background=sharp, mode="overlay", opacity=0.5,
                   free={"opacity": (0.0, 1.0)})
    flat = m.add("smoothstep", "flattened", input=swirl_src, low=0.45, high=0.75)
    height = m.add("blend", "height", foreground=m.add("uniform_gray", "flat_level", value=0.6), background=relief,
                   mask=flat, mode="copy", opacity=0.4)
    m.add("height_to_normal", "normal", input=height, intensity=0.25, free={"intensity": (0.05, 1.5)})
    mottle = m.add("clouds", "mottle", scale=5, octaves=5, roughness=0.55, seed=3)
    tone = m.ramp("tone", mottle, ((0.40, 0.33, 0.22), (0.46, 0.38, 0.26), (0.50, 0.42, 0.29), (0.55, 0.46, 0.33)),
                  free={"color_1": (0.1, 0.9), "color_2": (0.1, 0.9), "color_3": (0.1, 0.9), "color_4": (0.2, 1.0)})
    ao = m.add("ambient_occlusion", "cavities", input=height, radius=0.01, intensity=1.0, free={"intensity": (0.0, 5.0)})
    color = m.add("blend", "color", foreground=ao, background=tone, mode="multiply", opacity=0.4)
    rough = m.add("levels", "roughness", input=height, out_low=0.95, out_high=0.8, free={"out_high": (0.5, 1.0)})
    return m.finish(color=color, height=height, rough=rough)


def rock() -> Graph:
    m = Material("rock", "rock", "Weathered grey-brown rock face: fractured slabs with deep cracks, eroded "
                 "ridges and lichen-free grit.")
    slabs = m.add("cells", "slabs", scale=4, disorder=0.9, style="f2_minus_f1", seed=2, free={"scale": (2, 10)})
    cracks_f = m.add("cells", "cracks", scale=9, disorder=1.0, style="edges", edge_width=0.05, seed=3)
    big = m.add("clouds", "mass", scale=3, octaves=7, roughness=0.62, seed=4, free={"roughness": (0.4, 0.8)})
    slab_h = m.add("levels", "slab_height", input=slabs, in_low=0.0, in_high=0.3)
    mass = m.add("blend", "massif", foreground=slab_h, background=big, mode="overlay", opacity=0.5)
    eroded = m.add("slope_blur", "erosion", input=mass, slope=big, intensity=2.0, samples=8,
                   free={"intensity": (0.0, 5.0)})
    crack_m = m.add("levels", "crack_depth", input=cracks_f, in_low=0.2, in_high=1.0, out_low=0.0, out_high=1.0)
    height = m.add("blend", "height", foreground=crack_m, background=eroded, mode="subtract", opacity=0.15,
                   free={"opacity": (0.0, 0.6)})
    m.add("height_to_normal", "normal", input=height, intensity=2.0, free={"intensity": (0.5, 6.0)})
    grit = m.add("clouds", "grit", scale=48, octaves=2, roughness=0.5, seed=5)
    tone = m.ramp("tone", height, ((0.15, 0.13, 0.11), (0.35, 0.32, 0.28), (0.46, 0.43, 0.38), (0.58, 0.55, 0.50)),
                  free={"color_1": (0.0, 0.5), "color_2": (0.1, 0.7), "color_3": (0.1, 0.9), "color_4": (0.2, 0.9)})
    gritty = m.add("blend", "gritty", foreground=grit, background=tone, mode="overlay", opacity=0.3)
    ao = m.add("ambient_occlusion", "occlusion", input=height, radius=0.03, intensity=1.5)
    color = m.add("blend", "color", foreground=ao, background=gritty, mode="multiply", opacity=0.7)
    rough = m.add("levels", "roughness", input=grit, out_low=0.95, out_high=0.75)
    return m.finish(color=color, height=height, rough=rough)


def gravel() -> Graph:
    m = Material("gravel", "gravel", "Loose rounded gravel of mixed grey, tan and dark pebbles, densely "
                 "packed with dark gaps.")
    peb = m.add("cells", "pebbles", scale=12, disorder=1.0, style="f2_minus_f1", seed=7, free={"scale": (6, 28)})
    outline = m.add("threshold", "outline", input=peb, threshold=0.05, softness=0.001)
    ids = m.add("flood_fill_random", "pebble_ids", input=outline, amount=1.0, threshold=0.5, seed=7)
    dome = m.add("levels", "dome", input=peb, in_low=0.05, in_high=0.45, free={"in_low": (0.0, 0.2)})
    rounded = m.add("pow", "rounded", input=dome, exponent=0.5, free={"exponent": (0.3, 1.2)})
    lift = m.add("cell_random", "lift", input=ids, low=0.6, high=1.0, seed=2)
    height0 = m.add("blend", "stacked", foreground=lift, background=rounded, mode="multiply")
    grain = m.add("clouds", "grain", scale=48, octaves=3, roughness=0.6, seed=1)
    height = m.add("blend", "height", foreground=grain, background=height0, mode="overlay", opacity=0.15)
    m.add("height_to_normal", "normal", input=height, intensity=1.0, free={"intensity": (0.3, 3.0)})
    kinds = m.add("cell_random", "kind", input=ids, seed=9)
    palette = m.ramp("palette", kinds, ((0.22, 0.21, 0.20), (0.45, 0.43, 0.40), (0.60, 0.52, 0.40), (0.70, 0.68, 0.64)),
                     free={"color_1": (0.0, 0.6), "color_2": (0.1, 0.8), "color_3": (0.1, 0.9), "color_4": (0.2, 1.0)})
    speckled = m.add("blend", "speckled", foreground=grain, background=palette, mode="overlay", opacity=0.3)
    ao = m.add("ambient_occlusion", "occlusion", input=height, radius=0.03, intensity=1.5, free={"intensity": (0.3, 5.0)})
    color = m.add("blend", "color", foreground=ao, background=speckled, mode="multiply")
    rough = m.add("levels", "roughness", input=height, out_low=0.95, out_high=0.65)
    return m.finish(color=color, height=height, rough=rough)


def asphalt() -> Graph:
    m = Material("asphalt", "asphalt", "Worn road asphalt: black binder with packed grey aggregate, fine "
                 "sparkles and faded patches.")
    agg = m.add("cells", "aggregate", scale=36, disorder=1.0, style="f2_minus_f1", seed=3, free={"scale": (16, 64)})
    stones = m.add("threshold", "stones", input=agg, threshold=0.15, softness=0.05, free={"threshold": (0.05, 0.4)})
    outline = m.add("threshold", "outline", input=agg, threshold=0.05, softness=0.001)
    ids = m.add("flood_fill_random", "agg_ids", input=outline, amount=1.0, threshold=0.5, seed=4)
    exposed = m.add("threshold", "exposed", input=ids, threshold=0.4, softness=0.01, free={"threshold": (0.0, 0.9)})
    top = m.add("blend", "top_stones", foreground=stones, background=exposed, mode="multiply")
    fine = m.add("spectral_noise", "fines", seed=5, scale=0.003)
    height = m.add("blend", "height", foreground=fine, background=top, mode="overlay", opacity=0.4)
    m.add("height_to_normal", "normal", input=height, intensity=0.8, free={"intensity": (0.2, 3.0)})
    fade = m.add("clouds", "fade", scale=3, octaves=5, roughness=0.55, seed=6)
    binder = m.ramp("binder", fade, ((0.06, 0.06, 0.06), (0.09, 0.09, 0.09), (0.12, 0.12, 0.12), (0.16, 0.16, 0.15)),
                    free={"color_2": (0.0, 0.4), "color_4": (0.0, 0.5)})
    stone_col = m.add("cell_random", "stone_tone", input=ids, low=0.3, high=0.6, seed=8)
    stone_rgb = m.ramp("stone_color", stone_col, ((0.3, 0.3, 0.3), (0.4, 0.4, 0.39), (0.5, 0.5, 0.48), (0.6, 0.6, 0.58)),
                       free={"color_3": (0.1, 0.9)})
    color = m.add("blend", "color", foreground=stone_rgb, background=binder, mask=top, mode="copy", opacity=0.8)
    rough = m.add("levels", "roughness", input=fine, out_low=0.95, out_high=0.8)
    return m.finish(color=color, height=height, rough=rough)


def sand_ripples() -> Graph:
    m = Material("sand_ripples", "ground", "Fine beach sand shaped into wind ripples, with a glittering "
                 "grain and darker troughs.")
    ripples = m.add("stripes", "ripples", count=9, direction="vertical", width=0.5, softness=0.8, free={"count": (4, 20)})
    bend = m.add("clouds", "bend", scale=2, octaves=4, roughness=0.5, seed=3)
    bent = m.add("warp", "bent", input=ripples, intensity_input=bend, intensity=1.5, free={"intensity": (0.0, 4.0)})
    skew = m.add("curve", "asym", input=bent, x2=0.2, y2=0.5, x3=0.6, y3=0.85)
    grains = m.add("spectral_noise", "grains", seed=7, scale=0.002)
    clumps = m.add("clouds", "clumps", scale=24, octaves=3, roughness=0.5, seed=4)
    surface = m.add("blend", "surface", foreground=grains, background=clumps, mode="overlay", opacity=0.5)
    height = m.add("blend", "height", foreground=surface, background=skew, mode="overlay", opacity=0.35,
                   free={"opacity": (0.1, 0.8)})
    m.add("height_to_normal", "normal", input=height, intensity=1.0, free={"intensity": (0.2, 3.0)})
    tone = m.ramp("tone", height, ((0.55, 0.46, 0.33), (0.68, 0.58, 0.43), (0.76, 0.66, 0.50), (0.82, 0.73, 0.58)),
                  free={"color_1": (0.2, 0.9), "color_2": (0.2, 0.95), "color_3": (0.2, 1.0), "color_4": (0.3, 1.0)})
    glint = m.add("threshold", "glints", input=grains, threshold=0.9, softness=0.02)
    color = m.add("blend", "color", foreground=m.add("uniform_color", "glint_color", color=(0.95, 0.92, 0.85)),
                  background=tone, mask=glint, mode="copy", opacity=0.5)
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "glint_rough", value=0.4),
                  background=m.add("uniform_gray", "sand_rough", value=0.9), mask=glint, mode="copy")
    return m.finish(color=color, height=height, rough=rough)


def soil_pebbles() -> Graph:
    m = Material("soil_pebbles", "ground", "Dry brown soil with scattered rounded pebbles of mixed size and "
                 "tone, clods and fine cracks.")
    clods = m.add("clouds", "clods", scale=10, octaves=6, roughness=0.6, seed=1)
    cracks = m.add("cells", "cracks", scale=6, disorder=1.0, style="edges", edge_width=0.03, seed=2)
    crack_d = m.add("levels", "crack_depth", input=cracks, in_low=0.3, in_high=1.0)
    peb = m.add("tile_paraboloid", "pebbles", x_amount=6, y_amount=6, scale=0.9, scale_random=0.5,
                position_random=1.0, luminance_random=0.4, random_mask=0.25, seed=5,
                free={"scale": (0.3, 1.2), "random_mask": (0.0, 0.8)})
    bend = m.add("clouds", "pebble_bend", scale=6, octaves=3, roughness=0.5, seed=6)
    irregular = m.add("warp", "irregular", input=peb, intensity_input=bend, intensity=0.1)
    dome = m.add("pow", "dome", input=irregular, exponent=0.7, free={"exponent": (0.3, 1.2)})
    outline = m.add("threshold", "outline", input=irregular, threshold=0.05, softness=0.001)
    ids = m.add("flood_fill_random", "pebble_ids", input=outline, amount=1.0, threshold=0.5, seed=5)
    ground0 = m.add("blend", "ground_relief", foreground=crack_d, background=clods, mode="subtract", opacity=0.4)
    ground = m.add("levels", "ground", input=ground0, out_low=0.05, out_high=0.3)
    hb = m.add("height_blend", "stones_in_soil", top=dome, bottom=ground, offset=0.0, softness=0.03)
    m.add("height_to_normal", "normal", input=hb["height"], intensity=1.5, free={"intensity": (0.5, 4.0)})
    soil = m.ramp("soil", ground, ((0.20, 0.13, 0.08), (0.33, 0.23, 0.15), (0.42, 0.31, 0.21), (0.50, 0.39, 0.28)),
                  free={"color_1": (0.0, 0.5), "color_2": (0.05, 0.7), "color_3": (0.05, 0.9), "color_4": (0.1, 0.9)})
    grit = m.add("clouds", "pebble_grit", scale=40, octaves=3, roughness=0.6, seed=7)
    stone = m.ramp("pebble_color", grit, ((0.25, 0.23, 0.21), (0.38, 0.35, 0.31), (0.47, 0.44, 0.39),
                                          (0.55, 0.52, 0.47)), free={"color_3": (0.1, 0.9)})
    gritty = m.add("color_variation", "per_pebble", input=stone, regions=ids, hue_random=0.08, luminance_random=0.5,
                   seed=3)
    color0 = m.add("blend", "stones_on_soil_color", foreground=gritty, background=soil, mask=hb["mask"], mode="copy")
    ao = m.add("ambient_occlusion", "occlusion", input=hb["height"], radius=0.02, intensity=1.5)
    color = m.add("blend", "color", foreground=ao, background=color0, mode="multiply", opacity=0.6)
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "pebble_rough", value=0.6),
                  background=m.add("uniform_gray", "soil_rough", value=0.95), mask=hb["mask"], mode="copy")
    return m.finish(color=color, height=hb["height"], rough=rough)


RECIPES = (concrete, plaster_stucco, rock, gravel, asphalt, sand_ripples, soil_pebbles)

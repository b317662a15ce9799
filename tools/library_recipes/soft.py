"""Leather, fabric and carpet."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def leather_grain() -> Graph:
    m = Material("leather_grain", "leather", "Brown full-grain leather: a fine network of creases around soft "
                 "pebbled bumps, a darker tone in the creases and a waxy sheen.")
    grain = m.add("cells", "grain", scale=24, disorder=0.9, style="f2_minus_f1", seed=2, free={"scale": (12, 48)})
    fine = m.add("cells", "fine", scale=48, disorder=0.9, style="f2_minus_f1", seed=3)
    pebble = m.add("levels", "pebble", input=grain, in_low=0.0, in_high=0.35, free={"in_high": (0.15, 0.7)})
    mixed = m.add("blend", "mixed", foreground=fine, background=pebble, mode="multiply", opacity=0.3)
    flow = m.add("clouds", "flow", scale=3, octaves=3, roughness=0.5, seed=4)
    stretched = m.add("warp", "stretched", input=mixed, intensity_input=flow, intensity=0.2)
    height = m.add("blur", "height", input=stretched, radius=0.002)
    m.add("height_to_normal", "normal", input=height, intensity=0.6, free={"intensity": (0.1, 2.0)})
    creases = m.add("levels", "creases", input=height, in_low=0.0, in_high=0.3, out_low=1.0, out_high=0.0)
    mottle = m.add("clouds", "mottle", scale=6, octaves=4, roughness=0.5, seed=5)
    tone = m.ramp("tone", mottle, ((0.22, 0.11, 0.05), (0.33, 0.18, 0.09), (0.40, 0.23, 0.12), (0.48, 0.29, 0.16)),
                  free={"color_1": (0.0, 0.6), "color_2": (0.0, 0.7), "color_3": (0.0, 0.9), "color_4": (0.05, 0.9)})
    crease_col = m.add("hsl", "crease_tone", input=tone, lightness=0.35)
    creased = m.add("blend", "creased", foreground=crease_col, background=tone, mask=creases, mode="copy", opacity=0.8)
    color = m.add("hsl", "color", input=creased, free={"hue": (0.4, 0.6), "saturation": (0.2, 0.8), "lightness": (0.2, 0.8)})
    rough = m.add("levels", "roughness", input=height, out_low=0.6, out_high=0.42,
                  free={"out_low": (0.3, 0.9), "out_high": (0.2, 0.8)})
    return m.finish(color=color, height=height, rough=rough)


def leather_tufted() -> Graph:
    m = Material("leather_tufted", "leather", "Black tufted (capitonné) leather upholstery: padded squares "
                 "pulled in toward a large domed covered button at the seam crossing, folds around the button "
                 "and a glossy crinkled grain that breaks the flash highlight into many small glints.")
    panels = m.add("tile_square", "panels", x_amount=2, y_amount=2, scale=0.985, free={"scale": (0.95, 1.0)})
    face = m.add("threshold", "face", input=panels, threshold=0.5, softness=0.01)
    pillow = m.add("bevel", "pillow", input=face, width=0.22, profile="round", free={"width": (0.08, 0.3)})
    pillow_h = m.add("levels", "pillow_height", input=pillow, out_high=0.25, free={"out_high": (0.05, 0.6)})
    # the tufting pulls the whole panel down toward the button: a bowl that rises with the distance to it
    pull = m.add("radial_gradient", "pull", center=[0.5, 0.5], radius=0.685, free={"radius": (0.5, 1.0)})
    bowl = m.add("pow", "bowl", input=m.add("invert", "pull_distance", input=pull), exponent=1.0,
                 free={"exponent": (0.5, 3.0)})
    # (blurred so that the bowl's ridge at the tile border, under the seams, stays smooth)
    bowl = m.add("blur", "bowl_smooth", input=bowl, radius=0.03)
    padded = m.add("blend", "padded", foreground=bowl, background=pillow_h, mode="add", opacity=0.82,
                   free={"opacity": (0.0, 1.0)})
    fold_src = m.add("clouds", "fold_noise", scale=6, octaves=3, roughness=0.5, seed=3)
    folds = m.add("multi_directional_warp", "folds", input=padded, intensity_input=fold_src, intensity=0.02,
                  directions=4)
    # a hemispherical button: sqrt(1 - (d / r)^2) from the radial gradient 1 - d / r
    button = m.add("radial_gradient", "button", center=[0.5, 0.5], radius=0.122, free={"radius": (0.05, 0.22)})
    rim = m.add("pow", "button_rim2", input=m.add("invert", "button_rim", input=button), exponent=2.0)
    dome = m.add("pow", "button_dome", input=m.add("invert", "button_cap", input=rim), exponent=0.5)
    shape = m.add("blend", "shape", foreground=m.add("levels", "button_height", input=dome, out_high=0.8),
                  background=folds, mode="max")
    shape_n = m.add("height_to_normal", "shape_normal", input=shape, intensity=4.95, free={"intensity": (1.0, 10.0)})
    cells = m.add("cells", "grain_cells", scale=64, disorder=0.9, style="f2_minus_f1", seed=6)
    grain = m.add("levels", "grain", input=cells, in_high=0.4)
    crinkle = m.add("spectral_noise", "crinkle", seed=11, scale=0.0041, free={"scale": (0.002, 0.012)})
    grain_mix = m.add("blend", "grain_mix", foreground=grain, background=crinkle, mode="overlay", opacity=0.64,
                      free={"opacity": (0.0, 1.0)})
    grain_n = m.add("height_to_normal", "grain_normal", input=grain_mix, intensity=0.004,
                    free={"intensity": (0.0, 0.15)})
    button_m = m.add("threshold", "button_mask", input=button, threshold=0.02, softness=0.01)
    leather_m = m.add("invert", "leather_mask", input=button_m)
    m.add("normal_blend", "normal", base=shape_n, detail=grain_n, mask=leather_m)
    grain_h = m.add("levels", "grain_height", input=grain_mix, out_high=0.02)
    height = m.add("blend", "height", foreground=grain_h, background=shape, mode="add")
    tone = m.add("uniform_color", "leather", color=(0.076, 0.077, 0.053), free={"color": (0.0, 0.15)})
    ao = m.add("ambient_occlusion", "seams", input=shape, radius=0.02, intensity=5.0, free={"intensity": (0.0, 5.0)})
    color = m.add("blend", "color", foreground=ao, background=tone, mode="multiply", opacity=0.8)
    # glossy grain crests and duller valleys; the button's smooth cover has its own gloss
    grain_r = m.add("levels", "grain_rough", input=grain_mix, in_low=0.2, in_high=0.8, out_low=0.585, out_high=0.15,
                    free={"out_low": (0.3, 0.9), "out_high": (0.1, 0.6)})
    button_r = m.add("uniform_gray", "button_rough", value=0.3, free={"value": (0.1, 0.6)})
    rough = m.add("blend", "roughness", foreground=button_r, background=grain_r, mask=button_m, mode="copy")
    return m.finish(color=color, height=height, rough=rough)


def _fabric(m: Material, threads: int, pattern: str, width: float) -> tuple:
    """Weave height, thread fuzz and slub (uneven thread thickness): 6 nodes."""
    weave = m.add("weave", "weave", threads=threads, pattern=pattern, thread_width=width, softness=0.08,
                  free={"thread_width": (0.5, 1.2), "softness": (0.02, 0.3)})
    fuzz = m.add("spectral_noise", "fuzz", seed=3, scale=0.002)
    slub = m.add("spectral_noise", "slub", seed=4, scale=0.01, anisotropy=0.95, angle=0.25)
    uneven = m.add("blend", "uneven", foreground=slub, background=weave, mode="overlay", opacity=0.4)
    fuzzy = m.add("blend", "fuzzy", foreground=fuzz, background=uneven, mode="overlay", opacity=0.25,
                  free={"opacity": (0.0, 0.6)})
    height = m.add("blur", "height", input=fuzzy, radius=0.001)
    return weave, slub, height


def linen() -> Graph:
    m = Material("linen", "fabric", "Natural linen in plain weave: coarse undyed threads of uneven thickness, "
                 "matte and slightly hairy.")
    weave, slub, height = _fabric(m, threads=24, pattern="plain", width=0.85)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    tone = m.ramp("tone", height, ((0.45, 0.40, 0.32), (0.62, 0.57, 0.47), (0.72, 0.67, 0.57), (0.80, 0.76, 0.67)),
                  free={"color_1": (0.0, 0.8), "color_2": (0.0, 0.95), "color_3": (0.1, 0.95), "color_4": (0.1, 1.0)})
    streak = m.add("blend", "streaks", foreground=slub, background=tone, mode="soft_light", opacity=0.3)
    ao = m.add("ambient_occlusion", "gaps", input=height, radius=0.005, intensity=1.5)
    shaded = m.add("blend", "shaded", foreground=ao, background=streak, mode="multiply", opacity=0.6)
    crisp = m.add("sharpen", "crisp", input=shaded, amount=0.5, radius=0.003)
    clamped = m.add("clamp", "in_range", input=crisp)
    color = m.add("hsl", "color", input=clamped, free={"hue": (0.3, 0.7), "saturation": (0.2, 0.8), "lightness": (0.2, 0.8)})
    rough = m.add("levels", "roughness", input=height, out_low=0.95, out_high=0.85, free={"out_high": (0.6, 1.0)})
    return m.finish(color=color, height=height, rough=rough)


def denim() -> Graph:
    m = Material("denim", "fabric", "Indigo denim in 3/1 twill: diagonal ribs of blue warp over white weft, "
                 "faded streaks along the threads.")
    weave, slub, height = _fabric(m, threads=32, pattern="twill", width=1.0)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    warp_mask = m.add("threshold", "warp_on_top", input=weave, threshold=0.35, softness=0.2)
    indigo = m.ramp("indigo", slub, ((0.06, 0.10, 0.22), (0.12, 0.19, 0.35), (0.20, 0.28, 0.45), (0.30, 0.38, 0.55)),
                    free={"color_1": (0.0, 0.5), "color_2": (0.0, 0.6), "color_3": (0.0, 0.8), "color_4": (0.1, 0.8)})
    weft = m.add("uniform_color", "weft", color=(0.75, 0.75, 0.72), free={"color": (0.3, 1.0)})
    mix = m.add("blend", "mix", foreground=indigo, background=weft, mask=warp_mask, mode="copy", opacity=0.9)
    fade_src = m.add("clouds", "fade_src", scale=4, octaves=4, roughness=0.5, seed=8)
    fade = m.add("smoothstep", "fade", input=fade_src, low=0.5, high=0.9, free={"low": (0.3, 0.9)})
    color = m.add("blend", "color", foreground=m.add("hsl", "faded", input=mix, saturation=0.35, lightness=0.62),
                  background=mix, mask=fade, mode="copy", opacity=0.6)
    rough = m.add("uniform_gray", "roughness", value=0.88)
    return m.finish(color=color, height=height, rough=rough)


def knit() -> Graph:
    m = Material("knit", "fabric", "Chunky stockinette knit in red wool: columns of V-shaped stitches made of "
                 "two plump slanted loops, fuzzy yarn and dark gaps between the stitches.")
    blob = m.add("shape", "yarn_blob", kind="disc", tiles=1, size=0.42, softness=0.07)
    leg_l = m.add("transform_2d", "leg_left", input=blob, scale=[1.0, 2.1], rotation=0.07, offset=[-0.2, 0.0])
    leg_r = m.add("transform_2d", "leg_right", input=blob, scale=[1.0, 2.1], rotation=-0.07, offset=[0.2, 0.0])
    vee = m.add("blend", "vee", foreground=leg_l, background=leg_r, mode="max")
    stitches = m.add("tile_sampler", "stitches", pattern=vee, x_amount=8, y_amount=11, size=1.05, scale_random=0.05,
                     rotation_random=0.02, position_random=0.03, luminance_random=0.15, seed=2,
                     free={"size": (0.8, 1.3), "luminance_random": (0.0, 0.5)})
    plump = m.add("pow", "plump", input=stitches, exponent=0.6, free={"exponent": (0.3, 1.2)})
    ply = m.add("spectral_noise", "ply", seed=5, scale=0.004, anisotropy=0.8, angle=0.3)
    fuzz = m.add("spectral_noise", "fuzz", seed=6, scale=0.002)
    twisted = m.add("blend", "twisted", foreground=ply, background=plump, mode="overlay", opacity=0.3)
    fuzzy = m.add("blend", "fuzzy", foreground=fuzz, background=twisted, mode="overlay", opacity=0.2,
                  free={"opacity": (0.0, 0.7)})
    height = m.add("blur", "height", input=fuzzy, radius=0.001)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.5, 5.0)})
    tone = m.ramp("tone", height, ((0.10, 0.01, 0.02), (0.40, 0.05, 0.06), (0.58, 0.09, 0.09), (0.70, 0.16, 0.14)),
                  free={"color_1": (0.0, 0.5), "color_2": (0.0, 0.8), "color_3": (0.0, 0.9), "color_4": (0.0, 1.0)})
    ao = m.add("ambient_occlusion", "depth", input=height, radius=0.01, intensity=1.5)
    color = m.add("blend", "color", foreground=ao, background=tone, mode="multiply", opacity=0.7)
    rough = m.add("uniform_gray", "roughness", value=0.95)
    return m.finish(color=color, height=height, rough=rough)


def carpet() -> Graph:
    m = Material("carpet", "carpet", "Grey-blue loop-pile carpet: dense rows of small yarn loops, each loop "
                 "its own fibre colour in a tweed mix, dark between the loops.")
    loop = m.add("shape", "loop", kind="ring", tiles=1, size=0.75, thickness=0.4, softness=0.15)
    loops = m.add("tile_sampler", "loops", pattern=loop, x_amount=20, y_amount=20, size=1.2, scale_random=0.15,
                  rotation_random=0.1, position_random=0.12, luminance_random=0.6, seed=4,
                  free={"size": (0.8, 1.5), "position_random": (0.0, 0.4)})
    fibres = m.add("spectral_noise", "fibres", seed=6, scale=0.002)
    pile = m.add("blend", "pile", foreground=fibres, background=loops, mode="overlay", opacity=0.2,
                 free={"opacity": (0.0, 0.6)})
    height = m.add("blur", "height", input=pile, radius=0.001)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    tweed = m.add("levels", "tweed", input=loops, in_low=0.2, in_high=1.0)
    tone = m.ramp("tone", tweed, ((0.16, 0.18, 0.22), (0.30, 0.34, 0.40), (0.42, 0.45, 0.50), (0.62, 0.63, 0.62)),
                  free={"color_1": (0.0, 0.6), "color_2": (0.0, 0.8), "color_3": (0.0, 0.9), "color_4": (0.1, 1.0)})
    ao = m.add("ambient_occlusion", "depth", input=height, radius=0.008, intensity=2.5, free={"intensity": (0.0, 5.0)})
    shaded = m.add("blend", "shaded", foreground=ao, background=tone, mode="multiply")
    heather = m.add("spectral_noise", "heather", seed=9, scale=0.003)
    flecks = m.add("threshold", "flecks", input=heather, threshold=0.88, softness=0.02)
    flecked = m.add("blend", "flecked", foreground=m.add("uniform_color", "fleck_color", color=(0.70, 0.68, 0.60)),
                    background=shaded, mask=flecks, mode="copy", opacity=0.4)
    rough = m.add("uniform_gray", "roughness", value=0.95)
    return m.finish(color=flecked, height=height, rough=rough)


RECIPES = (leather_grain, leather_tufted, linen, denim, knit, carpet)

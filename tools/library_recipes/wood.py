"""Wood, bark and cork recipes."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def wood_planks() -> Graph:
    m = Material("wood_planks", "wood", "Oak floor planks in a staggered layout: warped growth rings and "
                 "streaky grain, a colour shift per plank, dark seams and a satin finish.")
    planks = m.add("tile_generator", "planks", pattern="square", x_amount=2, y_amount=7, interstice_x=0.01,
                   interstice_y=0.03, offset=0.5, luminance_random=0.6, free={"y_amount": (4, 12)})
    seams = m.add("threshold", "seams", input=planks, threshold=0.2, softness=0.05)
    bevel = m.add("bevel", "bevel", input=seams, width=0.008, free={"width": (0.005, 0.025)})
    wobble = m.add("clouds", "wobble", scale=3, octaves=3, roughness=0.5)
    rings = m.add("stripes", "rings", count=30, direction="vertical", width=0.35, softness=0.5,
                  free={"count": (12, 60)})
    rings_w = m.add("warp", "rings_warp", input=rings, intensity_input=wobble, intensity=1.5,
                    free={"intensity": (0.5, 4.0)})
    shifted = m.add("directional_warp", "plank_shift", input=rings_w, intensity_input=planks, intensity=0.3, angle=0.25)
    streaks = m.add("spectral_noise", "streaks", seed=3, scale=0.004, anisotropy=0.96, angle=0.0,
                    free={"scale": (0.002, 0.01)})
    grain = m.add("blend", "grain", foreground=streaks, background=shifted, mode="overlay", opacity=0.6,
                  free={"opacity": (0.2, 0.9)})
    tone = m.ramp("wood_color", grain, ((0.30, 0.17, 0.08), (0.45, 0.28, 0.14), (0.58, 0.38, 0.20), (0.66, 0.47, 0.28)),
                  free={"color_2": (0.1, 0.6), "color_3": (0.2, 0.8)})
    varied = m.add("color_variation", "plank_tint", input=tone, regions=planks, hue_random=0.02, luminance_random=0.25,
                   seed=4, free={"luminance_random": (0.0, 0.5)})
    dark = m.add("uniform_color", "seam_color", color=(0.12, 0.07, 0.04))
    color = m.add("blend", "color", foreground=varied, background=dark, mask=seams, mode="copy")
    fine = m.add("levels", "grain_height", input=grain, out_low=0.0, out_high=0.15)
    height = m.add("blend", "height", foreground=fine, background=bevel, mode="subtract", opacity=0.4)
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.5, 4.0)})
    rough_g = m.add("levels", "rough_grain", input=grain, out_low=0.55, out_high=0.38,
                    free={"out_low": (0.3, 0.8), "out_high": (0.2, 0.7)})
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "seam_rough", value=0.9),
                  background=rough_g, mask=m.add("invert", "gaps", input=seams), mode="copy")
    return m.finish(color=color, height=height, rough=rough)


def wood_grain() -> Graph:
    m = Material("wood_grain", "wood", "A single board of flat-sawn pine: cathedral growth rings bent by knots, "
                 "fine pores, pale earlywood and orange latewood.")
    warp_src = m.add("clouds", "bend", scale=2, octaves=3, roughness=0.45, seed=5)
    knots = m.add("cells", "knots", scale=3, disorder=0.9, style="f1", seed=2)
    knot_pull = m.add("levels", "knot_pull", input=knots, in_low=0.0, in_high=0.5, out_low=1.0, out_high=0.0)
    bend = m.add("blend", "bend_mix", foreground=knot_pull, background=warp_src, mode="add", opacity=0.5)
    rings = m.add("stripes", "rings", count=14, direction="vertical", width=0.25, softness=0.6,
                  free={"count": (6, 30), "width": (0.1, 0.6)})
    bent = m.add("warp", "ring_warp", input=rings, intensity_input=bend, intensity=3.0, free={"intensity": (1.0, 6.0)})
    sharp = m.add("pow", "latewood", input=bent, exponent=1.6)
    pores = m.add("spectral_noise", "pores", seed=11, scale=0.003, anisotropy=0.9, angle=0.25,
                  free={"scale": (0.002, 0.008)})
    pore_d = m.add("levels", "pore_depth", input=pores, in_low=0.2, in_high=0.8, out_low=0.0, out_high=1.0)
    grain = m.add("blend", "grain", foreground=pore_d, background=sharp, mode="multiply", opacity=0.35)
    rot = m.add("safe_transform", "along_y", input=grain, tiles=1, rotation="90")
    color = m.ramp("color", rot, ((0.55, 0.30, 0.12), (0.72, 0.48, 0.25), (0.85, 0.66, 0.42), (0.90, 0.74, 0.52)),
                   free={"color_1": (0.1, 0.7), "color_3": (0.4, 0.95)})
    soft = m.add("blur", "soft", input=rot, radius=0.002)
    height = m.add("levels", "height", input=soft, out_low=0.3, out_high=0.6)
    m.add("height_to_normal", "normal", input=height, intensity=1.0, free={"intensity": (0.2, 3.0)})
    rough = m.add("levels", "roughness", input=rot, out_low=0.7, out_high=0.5, free={"out_low": (0.4, 0.9)})
    return m.finish(color=color, height=height, rough=rough)


RECIPES = (wood_planks, wood_grain)

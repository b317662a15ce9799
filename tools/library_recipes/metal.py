"""Metals: brushed, scratched, rusty, painted and chipped."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def brushed_metal() -> Graph:
    m = Material("brushed_metal", "metal", "Brushed stainless steel: fine parallel streaks along one direction, "
                 "a faint long-wave waviness and an anisotropic-looking sheen.")
    streaks = m.add("spectral_noise", "streaks", seed=1, scale=0.002, anisotropy=0.98, angle=0.0,
                    free={"anisotropy": (0.8, 0.98), "angle": (0.0, 0.5)})
    coarse = m.add("spectral_noise", "coarse", seed=2, scale=0.006, anisotropy=0.97, angle=0.0)
    brushed = m.add("blend", "brushed", foreground=coarse, background=streaks, mode="overlay", opacity=0.5)
    wave = m.add("clouds", "waviness", scale=3, octaves=3, roughness=0.5, seed=3)
    height0 = m.add("levels", "streak_depth", input=brushed, out_low=0.45, out_high=0.55)
    height = m.add("blend", "height", foreground=wave, background=height0, mode="overlay", opacity=0.1)
    m.add("height_to_normal", "normal", input=height, intensity=0.6, free={"intensity": (0.0, 2.0)})
    tone = m.ramp("tone", brushed, ((0.55, 0.56, 0.57), (0.62, 0.63, 0.64), (0.68, 0.69, 0.70), (0.74, 0.75, 0.76)),
                  free={"color_2": (0.2, 1.0), "color_3": (0.2, 1.0)})
    rough0 = m.add("levels", "rough_streaks", input=brushed, out_low=0.22, out_high=0.38,
                   free={"out_low": (0.05, 0.6), "out_high": (0.1, 0.7)})
    smudge = m.add("clouds", "smudges", scale=4, octaves=5, roughness=0.55, seed=4)
    rough = m.add("blend", "roughness", foreground=smudge, background=rough0, mode="overlay", opacity=0.3)
    color = m.add("hsl", "color", input=tone, free={"hue": (0.4, 0.6), "saturation": (0.3, 0.7)})
    metallic = m.add("uniform_gray", "metallic", value=1.0, free={"value": (0.0, 1.0)})
    edge0 = m.add("sharpen", "crisp", input=color, amount=0.3, radius=0.003)
    edge = m.add("clamp", "in_range", input=edge0)
    return m.finish(color=edge, height=height, rough=rough, metallic=metallic)


def scratched_steel() -> Graph:
    m = Material("scratched_steel", "metal", "Dull grey steel plate: faint brushing, long random scratches and "
                 "fine rust-coloured specks, a mostly diffuse look under flash.")
    brush = m.add("spectral_noise", "brush", seed=3, scale=0.003, anisotropy=0.95, angle=0.1,
                  free={"angle": (0.0, 0.5)})
    scratches = m.add("scratches", "scratches", spline_number=10, spline_scale=0.6, spline_width=0.6,
                      luminance_random=0.5, free={"spline_number": (8, 128), "spline_scale": (0.2, 0.9)})
    fine_scr = m.add("scratches", "fine_scratches", spline_number=30, spline_scale=0.25, spline_width=0.4, seed=2)
    all_scr0 = m.add("blend", "all_scratches", foreground=fine_scr, background=scratches, mode="max", opacity=0.6)
    all_scr = m.add("levels", "scratch_strength", input=all_scr0, out_high=0.35, free={"out_high": (0.0, 1.0)})
    specks_src = m.add("spectral_noise", "speck_noise", seed=8, scale=0.002)
    specks = m.add("threshold", "specks", input=specks_src, threshold=0.85, softness=0.02, free={"threshold": (0.75, 0.98)})
    mottle = m.add("clouds", "mottle", scale=4, octaves=5, roughness=0.55, seed=5)
    base = m.ramp("steel", mottle, ((0.30, 0.31, 0.32), (0.33, 0.34, 0.35), (0.35, 0.36, 0.37), (0.38, 0.39, 0.40)),
                  free={"color_1": (0.05, 0.8), "color_2": (0.05, 0.8), "color_3": (0.05, 0.9), "color_4": (0.1, 0.9)})
    scr_col = m.add("blend", "scratched", foreground=m.add("uniform_color", "scratch_color", color=(0.18, 0.18, 0.19)),
                    background=base, mask=all_scr, mode="copy", opacity=0.5)
    color = m.add("blend", "color", foreground=m.add("uniform_color", "speck_color", color=(0.50, 0.30, 0.18)),
                  background=scr_col, mask=specks, mode="copy", opacity=0.8, free={"opacity": (0.0, 1.0)})
    grooves = m.add("invert", "grooves", input=all_scr)
    height = m.add("blend", "height", foreground=brush, background=grooves, mode="overlay", opacity=0.2)
    m.add("height_to_normal", "normal", input=height, intensity=0.3, free={"intensity": (0.0, 2.0)})
    rough = m.add("levels", "roughness", input=mottle, out_low=0.55, out_high=0.7,
                  free={"out_low": (0.2, 0.9), "out_high": (0.2, 0.95)})
    return m.finish(color=color, height=height, rough=rough, metallic=0.0)


def rusty_metal() -> Graph:
    m = Material("rusty_metal", "metal", "Corroding sheet steel: orange-brown rust blooms with pitted, flaky "
                 "crusts eating into dark grey metal.")
    spread = m.add("clouds", "spread", scale=4, octaves=6, roughness=0.6, seed=7)
    rust_m = m.add("smoothstep", "rust_mask", input=spread, low=0.45, high=0.6, free={"low": (0.2, 0.8)})
    pits = m.add("cells", "pits", scale=28, disorder=1.0, style="f1", seed=9)
    pit_d = m.add("levels", "pit_depth", input=pits, in_low=0.0, in_high=0.4)
    crust = m.add("clouds", "crust", scale=24, octaves=4, roughness=0.65, seed=8)
    rust_h = m.add("blend", "rust_relief", foreground=crust, background=pit_d, mode="overlay", opacity=0.6)
    metal_h = m.add("uniform_gray", "metal_level", value=0.3)
    hb = m.add("height_blend", "rust_on_metal", top=rust_h, bottom=metal_h, offset=0.0, softness=0.05)
    height = m.add("blend", "height", foreground=hb["height"], background=metal_h, mask=rust_m, mode="copy")
    m.add("height_to_normal", "normal", input=height, intensity=1.5, free={"intensity": (0.3, 4.0)})
    rust = m.ramp("rust", crust, ((0.22, 0.09, 0.04), (0.40, 0.17, 0.07), (0.55, 0.27, 0.10), (0.65, 0.38, 0.18)),
                  free={"color_1": (0.0, 0.5), "color_2": (0.05, 0.7), "color_3": (0.1, 0.8), "color_4": (0.1, 0.9)})
    steel = m.ramp("steel", spread, ((0.25, 0.25, 0.26), (0.32, 0.32, 0.33), (0.38, 0.38, 0.39), (0.44, 0.44, 0.45)),
                   free={"color_2": (0.05, 0.8)})
    color = m.add("blend", "color", foreground=rust, background=steel, mask=rust_m, mode="copy")
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "rust_rough", value=0.92),
                  background=m.add("uniform_gray", "steel_rough", value=0.35, free={"value": (0.1, 0.7)}),
                  mask=rust_m, mode="copy")
    metallic = m.add("invert", "metallic", input=rust_m)
    return m.finish(color=color, height=height, rough=rough, metallic=metallic)


def painted_metal_chipped() -> Graph:
    m = Material("painted_metal_chipped", "metal", "Green-painted steel with chipped and worn paint: bare "
                 "metal and rust showing through flaky chips, dirt in the low spots.")
    wear_n = m.add("clouds", "wear_noise", scale=6, octaves=6, roughness=0.65, seed=3)
    chips = m.add("smoothstep", "chips", input=wear_n, low=0.62, high=0.64, free={"low": (0.4, 0.8)})
    paint_h = m.add("levels", "paint_layer", input=chips, out_low=0.6, out_high=0.3)
    orange = m.add("clouds", "orange_peel", scale=40, octaves=2, roughness=0.5, seed=4)
    peel = m.add("blend", "peel", foreground=orange, background=paint_h, mode="overlay", opacity=0.1)
    height = m.add("blur", "height", input=peel, radius=0.001)
    m.add("height_to_normal", "normal", input=height, intensity=2.0, free={"intensity": (0.5, 5.0)})
    rim = m.add("edge_detect", "chip_rim", input=chips, width=0.003, contrast=2.0)
    rusty = m.add("smoothstep", "rusty", input=m.add("clouds", "rust_noise", scale=12, octaves=4, seed=5), low=0.5, high=0.7)
    paint = m.add("uniform_color", "paint", color=(0.16, 0.32, 0.22), free={"color": (0.02, 0.9)})
    bare = m.add("blend", "bare", foreground=m.add("uniform_color", "rust_color", color=(0.42, 0.20, 0.09), free={"color": (0.05, 0.8)}),
                 background=m.add("uniform_color", "bare_steel", color=(0.50, 0.50, 0.52)), mask=rusty, mode="copy")
    painted = m.add("blend", "painted", foreground=bare, background=paint, mask=chips, mode="copy")
    dirt = m.add("dirt", "dirt", height=height, noise=wear_n, amount=0.4, width=0.02,
                 free={"amount": (0.0, 1.0), "width": (0.005, 0.06)})
    dirty = m.add("blend", "dirty", foreground=m.add("uniform_color", "dirt_color", color=(0.15, 0.12, 0.09)),
                  background=painted, mask=dirt, mode="copy", opacity=0.5)
    color = m.add("blend", "color", foreground=m.add("hsl", "rim_tone", input=paint, lightness=0.65),
                  background=dirty, mask=rim, mode="copy", opacity=0.6)
    metal_m = m.add("blend", "metallic", foreground=m.add("invert", "not_rusty", input=rusty),
                    background=chips, mode="multiply")
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "bare_rough", value=0.4),
                  background=m.add("uniform_gray", "paint_rough", value=0.55, free={"value": (0.2, 0.9)}),
                  mask=chips, mode="copy")
    return m.finish(color=color, height=height, rough=rough, metallic=metal_m)


RECIPES = (brushed_metal, scratched_steel, rusty_metal, painted_metal_chipped)

"""Marble, granite, speckled stone, terrazzo, concrete, plaster and rock."""

from __future__ import annotations

from proxymat.graph import Graph, Ref

from .common import Material


def _veins(m: Material, prefix: str, scale: int, warp: float, width: float, seed: int) -> Ref:
    """Thin veins: the warped iso-line at mid gray of a clouds field (7 nodes)."""
    base = m.add("clouds", f"{prefix}_field", scale=scale, octaves=3, roughness=0.45, seed=seed)
    push = m.add("clouds", f"{prefix}_push", scale=scale, octaves=5, roughness=0.6, seed=seed + 1)
    bent = m.add("warp", f"{prefix}_warp", input=base, intensity_input=push, intensity=warp,
                 free={"intensity": (0.1, 1.5)})
    spread = m.add("auto_levels", f"{prefix}_spread", input=bent)
    mid = m.add("uniform_gray", f"{prefix}_mid", value=0.5)
    dist = m.add("difference", f"{prefix}_dist", a=spread, b=mid)
    return m.add("levels", f"{prefix}", input=dist, in_low=0.0, in_high=width, out_low=1.0, out_high=0.0,
                 free={"in_high": (0.01, 0.2)})


def marble_white() -> Graph:
    m = Material("marble_white", "marble", "Polished white Carrara marble: soft grey clouding with branching "
                 "thin grey veins and a glossy finish.")
    veins = _veins(m, "veins", scale=3, warp=0.5, width=0.03, seed=10)
    small = _veins(m, "veinlets", scale=5, warp=0.4, width=0.012, seed=20)
    all_veins = m.add("blend", "all_veins", foreground=small, background=veins, mode="max", opacity=0.6)
    cloud = m.add("clouds", "clouding", scale=4, octaves=5, roughness=0.5, seed=30)
    base = m.ramp("base", cloud, ((0.78, 0.78, 0.77), (0.85, 0.85, 0.84), (0.90, 0.90, 0.89), (0.94, 0.94, 0.93)),
                  free={"color_1": (0.3, 1.0), "color_4": (0.5, 1.0)})
    vein_col = m.add("uniform_color", "vein_color", color=(0.45, 0.46, 0.48), free={"color": (0.05, 0.95)})
    color = m.add("blend", "color", foreground=vein_col, background=base, mask=all_veins, mode="copy", opacity=0.8,
                  free={"opacity": (0.2, 1.0)})
    height = m.add("levels", "height", input=all_veins, out_low=0.5, out_high=0.49)
    m.add("height_to_normal", "normal", input=height, intensity=0.5, free={"intensity": (0.0, 2.0)})
    rough = m.add("uniform_gray", "roughness", value=0.12, free={"value": (0.03, 0.5)})
    return m.finish(color=color, height=height, rough=rough)


def marble_dark() -> Graph:
    m = Material("marble_dark", "marble", "Dark polished marble (nero): near-black stone with fine glints, "
                 "pale translucent patches with brighter rims and thin light veins.")
    blob_src = m.add("clouds", "patch_field", scale=2, octaves=6, roughness=0.6, seed=4)
    blobs = m.add("smoothstep", "patches", input=blob_src, low=0.64, high=0.68, free={"low": (0.5, 0.8)})
    rims = m.add("edge_detect", "rims", input=blobs, width=0.003, contrast=2.0)
    inner = m.add("clouds", "patch_inner", scale=8, octaves=5, roughness=0.65, seed=5)
    veins = _veins(m, "veins", scale=4, warp=0.4, width=0.012, seed=40)
    glint_src = m.add("spectral_noise", "glint_noise", seed=2, scale=0.002)
    glints = m.add("threshold", "glints", input=glint_src, threshold=0.85, softness=0.03, free={"threshold": (0.7, 0.95)})
    base = m.add("uniform_color", "base", color=(0.04, 0.04, 0.045), free={"color": (0.0, 0.3)})
    patch_col = m.ramp("patch_color", inner, ((0.12, 0.11, 0.10), (0.30, 0.28, 0.26), (0.48, 0.45, 0.41),
                                               (0.62, 0.59, 0.54)), free={"color_2": (0.1, 0.9)})
    light = m.add("uniform_color", "light", color=(0.75, 0.73, 0.70))
    with_patches = m.add("blend", "with_patches", foreground=patch_col, background=base, mask=blobs, mode="copy",
                         opacity=0.6, free={"opacity": (0.2, 1.0)})
    with_rims = m.add("blend", "with_rims", foreground=light, background=with_patches, mask=rims, mode="copy", opacity=0.5)
    with_veins = m.add("blend", "with_veins", foreground=light, background=with_rims, mask=veins, mode="copy",
                       opacity=0.25, free={"opacity": (0.0, 1.0)})
    color = m.add("blend", "color", foreground=light, background=with_veins, mask=glints, mode="copy", opacity=0.35)
    height = m.add("levels", "height", input=blobs, out_low=0.5, out_high=0.52)
    m.add("height_to_normal", "normal", input=height, intensity=0.5, free={"intensity": (0.0, 2.0)})
    rough = m.add("uniform_gray", "roughness", value=0.1, free={"value": (0.03, 0.5)})
    return m.finish(color=color, height=height, rough=rough)


def speckled_stone() -> Graph:
    m = Material("speckled_stone", "stone", "Dark speckled stone (engineered quartz): a brown-grey matrix with "
                 "sparse fine rust and pale grains, honed to a soft sheen.")
    specks = m.add("tile_disc", "grains", x_amount=48, y_amount=48, scale=0.3, scale_random=0.6,
                   position_random=1.0, luminance_random=0.8, random_mask=0.55, seed=3,
                   free={"scale": (0.1, 0.5), "random_mask": (0.2, 0.9)})
    speck = m.add("smoothstep", "specks", input=specks, low=0.05, high=0.25)
    pale = m.add("threshold", "pale", input=specks, threshold=0.85, softness=0.02, free={"threshold": (0.5, 0.98)})
    mottling = m.add("clouds", "mottling", scale=5, octaves=5, roughness=0.55, seed=9)
    base = m.ramp("matrix", mottling, ((0.13, 0.11, 0.09), (0.17, 0.15, 0.13), (0.20, 0.18, 0.15), (0.24, 0.21, 0.18)),
                  free={"color_2": (0.0, 0.5), "color_3": (0.0, 0.6)})
    rust = m.add("uniform_color", "rust", color=(0.55, 0.30, 0.15), free={"color": (0.1, 0.9)})
    cream = m.add("uniform_color", "cream", color=(0.72, 0.68, 0.60))
    spec_col = m.add("blend", "speck_color", foreground=cream, background=rust, mask=pale, mode="copy")
    color = m.add("blend", "color", foreground=spec_col, background=base, mask=speck, mode="copy", opacity=0.9)
    micro = m.add("spectral_noise", "micro", seed=1, scale=0.002)
    wave = m.add("clouds", "waviness", scale=6, octaves=3, roughness=0.5, seed=2)
    bumpy = m.add("blend", "bumpy", foreground=wave, background=micro, mode="overlay", opacity=0.1)
    height = m.add("levels", "height", input=bumpy, out_low=0.48, out_high=0.52)
    m.add("height_to_normal", "normal", input=height, intensity=0.5, free={"intensity": (0.0, 2.0)})
    rough = m.add("levels", "roughness", input=mottling, out_low=0.3, out_high=0.4,
                  free={"out_low": (0.1, 0.7), "out_high": (0.1, 0.8)})
    return m.finish(color=color, height=height, rough=rough)


def granite() -> Graph:
    m = Material("granite", "stone", "Polished pink granite: interlocking grains of pink feldspar, grey quartz "
                 "and black mica.")
    grains = m.add("cells", "grains", scale=28, disorder=1.0, style="cell_random", seed=6, free={"scale": (12, 56)})
    fine = m.add("cells", "fine_grains", scale=56, disorder=1.0, style="cell_random", seed=7)
    mix = m.add("blend", "grain_mix", foreground=fine, background=grains, mode="copy", opacity=0.35)
    bend = m.add("clouds", "bend", scale=8, octaves=3, roughness=0.5, seed=2)
    bent = m.add("warp", "bent", input=mix, intensity_input=bend, intensity=0.8)
    steps = m.add("quantize", "minerals", input=bent, levels=5, softness=0.02)
    color = m.ramp("palette", steps, ((0.05, 0.05, 0.05), (0.55, 0.55, 0.55), (0.72, 0.50, 0.45), (0.85, 0.70, 0.65)),
                   pos=(0.2, 0.45, 0.6, 0.9),
                   free={"color_1": (0.0, 0.4), "color_2": (0.2, 0.8), "color_3": (0.3, 0.9), "color_4": (0.4, 1.0)})
    color = m.add("hsl", "tint", input=color, free={"hue": (0.4, 0.6), "saturation": (0.2, 0.8), "lightness": (0.3, 0.7)})
    sparkle = m.add("threshold", "mica", input=fine, threshold=0.92, softness=0.01)
    shiny = m.add("blend", "shiny", foreground=m.add("uniform_gray", "mica_rough", value=0.05),
                  background=m.add("uniform_gray", "base_rough", value=0.18, free={"value": (0.05, 0.6)}),
                  mask=sparkle, mode="copy")
    micro = m.add("clouds", "micro", scale=32, octaves=2, roughness=0.5, seed=3)
    height = m.add("levels", "height", input=micro, out_low=0.49, out_high=0.51)
    m.add("height_to_normal", "normal", input=height, intensity=0.5, free={"intensity": (0.0, 2.0)})
    return m.finish(color=color, height=height, rough=shiny)


def terrazzo() -> Graph:
    m = Material("terrazzo", "terrazzo", "Polished terrazzo: angular chips of white, grey, black and terracotta "
                 "marble set in a pale cement matrix.")
    shape = m.add("cells", "chip_shape", scale=14, disorder=0.9, style="f2_minus_f1", seed=12, free={"scale": (6, 28)})
    shrink = m.add("threshold", "shrink", input=shape, threshold=0.3, softness=0.002, free={"threshold": (0.1, 0.6)})
    ids = m.add("flood_fill_random", "chip_ids", input=shrink, amount=1.0, threshold=0.5, seed=12)
    keep = m.add("threshold", "keep", input=ids, threshold=0.35, softness=0.01, free={"threshold": (0.0, 0.9)})
    chips = m.add("blend", "chips", foreground=shrink, background=keep, mode="multiply")
    small = m.add("cells", "sand_shape", scale=48, disorder=1.0, style="f2_minus_f1", seed=13)
    small_m = m.add("threshold", "sand_chips", input=small, threshold=0.45, softness=0.02)
    chip_col = m.ramp("chip_colors", m.add("quantize", "chip_kind", input=ids, levels=4, softness=0.01),
                      ((0.92, 0.91, 0.88), (0.45, 0.45, 0.46), (0.10, 0.10, 0.11), (0.70, 0.36, 0.24)),
                      free={"color_1": (0.3, 1.0), "color_2": (0.1, 0.9), "color_3": (0.0, 0.5), "color_4": (0.1, 0.9)})
    matrix = m.add("uniform_color", "matrix", color=(0.80, 0.78, 0.74), free={"color": (0.1, 0.95)})
    with_sand = m.add("blend", "with_sand", foreground=m.add("uniform_color", "sand_color", color=(0.62, 0.60, 0.56)),
                      background=matrix, mask=small_m, mode="copy", opacity=0.6)
    color = m.add("blend", "color", foreground=chip_col, background=with_sand, mask=chips, mode="copy")
    height = m.add("levels", "height", input=chips, out_low=0.5, out_high=0.51)
    m.add("height_to_normal", "normal", input=height, intensity=0.8, free={"intensity": (0.0, 3.0)})
    rough = m.add("uniform_gray", "roughness", value=0.2, free={"value": (0.05, 0.6)})
    return m.finish(color=color, height=height, rough=rough)


RECIPES = (marble_white, marble_dark, speckled_stone, granite, terrazzo)

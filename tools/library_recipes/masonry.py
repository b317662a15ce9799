"""Bricks, tiles, cobblestones and pavements."""

from __future__ import annotations

from proxymat.graph import Graph

from .common import Material


def red_bricks() -> Graph:
    m = Material("red_bricks", "brick", "Red clay bricks in running bond with recessed grey mortar, a tone "
                 "per brick, pitted faces and chipped edges.")
    bricks = m.add("tile_square", "bricks", x_amount=4, y_amount=10, offset=0.5, interstice_x=0.05,
                   interstice_y=0.18, luminance_random=0.7, free={"y_amount": (6, 16), "interstice_y": (0.05, 0.25)})
    mask = m.add("threshold", "face", input=bricks, threshold=0.1, softness=0.02)
    bevel = m.add("bevel", "bevel", input=mask, width=0.012, profile="round", free={"width": (0.005, 0.03)})
    raised = m.add("levels", "raised", input=bevel, out_low=0.0, out_high=0.7)
    pits = m.add("clouds", "pits", scale=24, octaves=4, roughness=0.6, seed=1)
    chips = m.add("clouds", "chips", scale=6, octaves=5, roughness=0.6, seed=2)
    worn = m.add("edge_wear", "wear", height=raised, noise=chips, amount=0.4, width=0.02, noise_amount=1.0)
    rough_face = m.add("blend", "face_relief", foreground=pits, background=raised, mode="overlay", opacity=0.35,
                       free={"opacity": (0.1, 0.7)})
    height = m.add("blend", "height", foreground=m.add("uniform_gray", "chip_depth", value=0.2),
                   background=rough_face, mask=worn, mode="subtract", opacity=0.8)
    m.add("height_to_normal", "normal", input=height, intensity=2.5, free={"intensity": (0.8, 5.0)})
    tone = m.ramp("brick_color", pits, ((0.36, 0.12, 0.07), (0.50, 0.19, 0.11), (0.58, 0.26, 0.16), (0.66, 0.36, 0.24)),
                  free={"color_2": (0.05, 0.7), "color_3": (0.1, 0.8)})
    varied = m.add("color_variation", "per_brick", input=tone, regions=bricks, hue_random=0.03, luminance_random=0.35,
                   seed=7, free={"luminance_random": (0.0, 0.6)})
    mortar = m.ramp("mortar_color", pits, ((0.45, 0.43, 0.40), (0.55, 0.53, 0.49), (0.62, 0.60, 0.56), (0.70, 0.68, 0.64)),
                    free={"color_2": (0.2, 0.8)})
    color = m.add("blend", "color", foreground=varied, background=mortar, mask=mask, mode="copy")
    rough = m.add("levels", "roughness", input=pits, out_low=0.95, out_high=0.75, free={"out_high": (0.5, 0.95)})
    return m.finish(color=color, height=height, rough=rough)


def stone_tiles() -> Graph:
    m = Material("stone_tiles", "stone tiles", "Square slate floor tiles with thin dark grout: layered cleft "
                 "relief, a grey-green tone per tile and matte faces.")
    tiles = m.add("tile_square", "tiles", x_amount=4, y_amount=4, scale=0.96, luminance_random=0.7,
                  free={"scale": (0.85, 1.0)})
    face = m.add("threshold", "face", input=tiles, threshold=0.25, softness=0.01)
    bevel = m.add("bevel", "bevel", input=face, width=0.008)
    cleft = m.add("spectral_noise", "cleft", seed=5, scale=0.02, anisotropy=0.7, angle=0.1, free={"scale": (0.005, 0.06)})
    layers = m.add("quantize", "layers", input=cleft, levels=5, softness=0.12)
    fine = m.add("clouds", "fine", scale=32, octaves=3, roughness=0.5, seed=3)
    relief = m.add("blend", "relief", foreground=fine, background=layers, mode="overlay", opacity=0.3)
    per_tile = m.add("directional_warp", "tile_shift", input=relief, intensity_input=tiles, intensity=0.4, angle=0.1)
    h_face = m.add("levels", "face_height", input=per_tile, out_low=0.55, out_high=0.9)
    height = m.add("blend", "height", foreground=h_face, background=m.add("uniform_gray", "grout_h", value=0.2),
                   mask=bevel, mode="copy")
    m.add("height_to_normal", "normal", input=height, intensity=2.0, free={"intensity": (0.5, 5.0)})
    tone = m.ramp("slate_color", per_tile, ((0.16, 0.18, 0.18), (0.25, 0.27, 0.26), (0.32, 0.34, 0.32), (0.40, 0.41, 0.38)),
                  free={"color_1": (0.05, 0.5), "color_4": (0.2, 0.7)})
    varied = m.add("color_variation", "per_tile", input=tone, regions=tiles, hue_random=0.04, luminance_random=0.3, seed=2,
                   free={"luminance_random": (0.0, 0.6)})
    grout = m.add("uniform_color", "grout", color=(0.12, 0.12, 0.11), free={"color": (0.05, 0.6)})
    color = m.add("blend", "color", foreground=varied, background=grout, mask=face, mode="copy")
    rough = m.add("levels", "roughness", input=per_tile, out_low=0.85, out_high=0.6, free={"out_high": (0.3, 0.9)})
    return m.finish(color=color, height=height, rough=rough)


def ceramic_tiles() -> Graph:
    m = Material("ceramic_tiles", "ceramic tiles", "Glossy white glazed wall tiles with rounded edges and "
                 "light grey grout; a slight glaze waviness and tint per tile.")
    tiles = m.add("tile_square", "tiles", x_amount=6, y_amount=6, scale=0.95, luminance_random=0.7,
                  free={"scale": (0.85, 0.99)})
    face = m.add("threshold", "face", input=tiles, threshold=0.1, softness=0.01)
    bevel = m.add("bevel", "bevel", input=face, width=0.012, profile="round", free={"width": (0.005, 0.03)})
    wave = m.add("clouds", "glaze_wave", scale=6, octaves=3, roughness=0.4, seed=8)
    wave_h = m.add("levels", "wave_height", input=wave, out_low=0.0, out_high=0.06, free={"out_high": (0.0, 0.2)})
    height = m.add("blend", "height", foreground=wave_h, background=bevel, mode="add")
    m.add("height_to_normal", "normal", input=height, intensity=3.0, free={"intensity": (1.0, 6.0)})
    glaze = m.add("uniform_color", "glaze", color=(0.88, 0.88, 0.86), free={"color": (0.05, 0.98)})
    tinted = m.add("color_variation", "per_tile", input=glaze, regions=tiles, hue_random=0.01, luminance_random=0.06, seed=3)
    grout = m.add("uniform_color", "grout", color=(0.62, 0.61, 0.58), free={"color": (0.1, 0.9)})
    dirt = m.add("dirt", "grout_dirt", height=height, noise=wave, amount=0.3, width=0.01)
    dirty = m.add("blend", "dirty_grout", foreground=m.add("uniform_color", "dirt_color", color=(0.35, 0.33, 0.3)),
                  background=grout, mask=dirt, mode="copy", opacity=0.6)
    color = m.add("blend", "color", foreground=tinted, background=dirty, mask=face, mode="copy")
    glossy = m.add("uniform_gray", "glaze_rough", value=0.12, free={"value": (0.03, 0.4)})
    rough = m.add("blend", "roughness", foreground=glossy, background=m.add("uniform_gray", "grout_rough", value=0.9),
                  mask=face, mode="copy")
    return m.finish(color=color, height=height, rough=rough)


def mosaic_tiles() -> Graph:
    m = Material("mosaic_tiles", "ceramic tiles", "Small square glass mosaic in mixed blues and teals with "
                 "white grout, each chip slightly rotated and shaded.")
    square = m.add("shape", "chip", kind="square", tiles=1, size=0.82, softness=0.03)
    chips = m.add("tile_sampler", "chips", pattern=square, x_amount=12, y_amount=12, size=0.95, scale_random=0.05,
                  rotation_random=0.04, position_random=0.05, luminance_random=0.6, seed=1,
                  free={"size": (0.75, 1.1), "rotation_random": (0.0, 0.15)})
    face = m.add("threshold", "face", input=chips, threshold=0.2, softness=0.03)
    ids = m.add("levels", "chip_tone", input=chips, in_low=0.4, in_high=1.0)
    dome = m.add("bevel", "dome", input=face, width=0.01)
    ripple = m.add("clouds", "ripple", scale=24, octaves=2, roughness=0.5, seed=4)
    height = m.add("blend", "height", foreground=ripple, background=dome, mode="overlay", opacity=0.15)
    m.add("height_to_normal", "normal", input=height, intensity=2.0, free={"intensity": (0.5, 5.0)})
    palette = m.ramp("palette", ids, ((0.10, 0.25, 0.45), (0.15, 0.45, 0.55), (0.30, 0.60, 0.70), (0.70, 0.85, 0.88)),
                     free={"color_1": (0.0, 0.8), "color_2": (0.0, 0.8), "color_3": (0.0, 0.9)})
    shade = m.add("color_variation", "per_chip", input=palette, regions=chips, hue_random=0.02, luminance_random=0.15,
                  seed=9)
    grout = m.add("uniform_color", "grout", color=(0.85, 0.84, 0.80), free={"color": (0.2, 0.95)})
    color = m.add("blend", "color", foreground=shade, background=grout, mask=face, mode="copy")
    rough = m.add("blend", "roughness", foreground=m.add("uniform_gray", "glass_rough", value=0.2),
                  background=m.add("uniform_gray", "grout_rough", value=0.85), mask=face, mode="copy")
    return m.finish(color=color, height=height, rough=rough)


def cobblestone() -> Graph:
    m = Material("cobblestone", "pavement", "Rounded grey granite cobbles of uneven size set in dark soil, "
                 "with worn tops and dirt in the joints.")
    stones = m.add("cells", "stones", scale=7, disorder=0.8, style="f2_minus_f1", seed=1,
                   free={"scale": (4, 14), "disorder": (0.3, 1.0)})
    outline = m.add("threshold", "outline", input=stones, threshold=0.04, softness=0.001)
    ids = m.add("flood_fill_random", "stone_ids", input=outline, amount=1.0, threshold=0.5, seed=1)
    domes = m.add("levels", "domes", input=stones, in_low=0.03, in_high=0.5, in_mid=0.35, free={"in_high": (0.25, 0.8)})
    round_ = m.add("pow", "round", input=domes, exponent=0.6)
    grain = m.add("clouds", "grain", scale=32, octaves=4, roughness=0.6, seed=2)
    relief = m.add("blend", "relief", foreground=grain, background=round_, mode="overlay", opacity=0.2)
    dirt = m.add("dirt", "joint_dirt", height=relief, noise=grain, amount=0.6, width=0.03, free={"amount": (0.0, 1.0)})
    height = m.add("blur", "height", input=relief, radius=0.002)
    m.add("height_to_normal", "normal", input=height, intensity=3.0, free={"intensity": (1.0, 6.0)})
    tone = m.ramp("granite", grain, ((0.30, 0.30, 0.31), (0.42, 0.41, 0.40), (0.52, 0.50, 0.48), (0.62, 0.60, 0.57)),
                  free={"color_2": (0.1, 0.8), "color_3": (0.2, 0.9)})
    varied = m.add("color_variation", "per_stone", input=tone, regions=ids, hue_random=0.04, luminance_random=0.35, seed=5)
    soil = m.add("uniform_color", "soil", color=(0.16, 0.13, 0.10), free={"color": (0.02, 0.5)})
    base = m.add("blend", "stones_on_soil", foreground=varied, background=soil, mask=outline, mode="copy")
    color = m.add("blend", "color", foreground=soil, background=base, mask=dirt, mode="copy", opacity=0.7)
    rough = m.add("levels", "roughness", input=height, out_low=0.95, out_high=0.6, free={"out_high": (0.3, 0.9)})
    return m.finish(color=color, height=height, rough=rough)


def fan_pavement() -> Graph:
    m = Material("fan_pavement", "pavement", "Small grey setts laid in overlapping arcs (fan pattern) with sand "
                 "in the joints.")
    arcs = m.add("arc_pavement", "arcs", pattern_amount=6, arcs_amount=8, pattern_width=0.85, pattern_height=0.85,
                 pattern_width_random=0.15, free={"pattern_amount": (3, 12), "arcs_amount": (4, 16), "pattern_width": (0.6, 1.0)})
    face = m.add("threshold", "face", input=arcs, threshold=0.1, softness=0.05)
    outline = m.add("threshold", "outline", input=arcs, threshold=0.05, softness=0.001)
    ids = m.add("flood_fill_random", "sett_ids", input=outline, amount=1.0, threshold=0.5, seed=4)
    bevel = m.add("bevel", "bevel", input=face, width=0.01, free={"width": (0.005, 0.03)})
    grain = m.add("clouds", "grain", scale=40, octaves=3, roughness=0.6, seed=6)
    relief = m.add("blend", "relief", foreground=grain, background=bevel, mode="overlay", opacity=0.2)
    m.add("height_to_normal", "normal", input=relief, intensity=2.5, free={"intensity": (1.0, 6.0)})
    tone = m.ramp("stone", grain, ((0.30, 0.30, 0.30), (0.40, 0.39, 0.38), (0.48, 0.47, 0.45), (0.55, 0.54, 0.52)),
                  free={"color_2": (0.1, 0.8)})
    varied = m.add("color_variation", "per_sett", input=tone, regions=ids, hue_random=0.03, luminance_random=0.3, seed=4)
    sand = m.ramp("sand", grain, ((0.35, 0.30, 0.22), (0.45, 0.39, 0.29), (0.52, 0.45, 0.34), (0.58, 0.51, 0.40)),
                  free={"color_2": (0.1, 0.8)})
    laid = m.add("blend", "laid", foreground=varied, background=sand, mask=face, mode="copy")
    ao = m.add("ambient_occlusion", "occlusion", input=relief, radius=0.02, intensity=1.5)
    worn = m.add("edge_wear", "worn_edges", height=relief, noise=grain, amount=0.3, width=0.01)
    shaded = m.add("blend", "shaded", foreground=ao, background=laid, mode="multiply", opacity=0.6)
    color = m.add("blend", "color", foreground=m.add("uniform_color", "worn_color", color=(0.62, 0.60, 0.57)),
                  background=shaded, mask=worn, mode="copy", opacity=0.5)
    rough = m.add("levels", "roughness", input=relief, out_low=0.95, out_high=0.7)
    return m.finish(color=color, height=relief, rough=rough)


RECIPES = (red_bricks, stone_tiles, ceramic_tiles, mosaic_tiles, cobblestone, fan_pavement)

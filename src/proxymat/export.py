"""Export a material as texture maps plus MaterialX and glTF 2.0 documents.

:func:`export_material` evaluates a graph (or takes ready maps) and writes, in
one folder:

- ``basecolor.png`` (sRGB), ``roughness.png``, ``metallic.png`` (linear, 8 or
  16 bits), ``normal_gl.png`` / ``normal_dx.png`` and ``height.png`` (16 bits);
- ``orm.png``: R = ambient occlusion (1.0 unless the maps carry ``ao``),
  G = roughness, B = metallic, linear -- the glTF metallicRoughness packing;
- optionally ``height.exr`` and ``normal_{gl,dx}.exr`` (float32, linear);
- ``NAME.mtlx``: a validated MaterialX 1.39 document (``standard_surface`` or
  ``gltf_pbr`` + ``surfacematerial``) whose ``image`` nodes use these maps;
- ``NAME.gltf`` + ``NAME.bin``: a textured unit quad with one PBR material,
  laid as a floor (normal +Y, glTF's up axis) unless a wall is asked for.

Both documents reference OpenGL-convention normals (``normal_gl.png``), which
glTF requires and MaterialX's ``normalmap`` node expects; a DirectX map is an
extra loose file. Documents are built (and validated) before anything is
written and are written last, each atomically, so a failure never leaves a
half-written document or one pointing at missing maps.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from .io import ImageError, _atomic_write, write_exr, write_png

FORMATS: tuple[str, ...] = ("mtlx", "gltf")
SHADERS: tuple[str, ...] = ("standard_surface", "gltf_pbr")
# glTF quad layouts: the world direction of the image's top edge (glTF is +Y up).
# "floor" lies in the XZ plane facing +Y, image top towards -Z (away from a
# viewer on the default +Z side); "wall" stands in the XY plane facing +Z.
PLANES: dict[str, tuple[float, float, float]] = {"floor": (0.0, 0.0, -1.0), "wall": (0.0, 1.0, 0.0)}
_REQUIRED = {"basecolor": 3, "normal": 3, "roughness": 1, "metallic": 1, "height": 1}
# glTF enums
_FLOAT, _USHORT = 5126, 5123
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_LINEAR, _LINEAR_MIPMAP_LINEAR, _REPEAT = 9729, 9987, 10497


class ExportError(ImageError):
    """An export could not be produced (e.g. the MaterialX document is invalid)."""


@dataclass(frozen=True)
class MapFiles:
    """File names (relative to the export folder) that the documents reference."""

    basecolor: str = "basecolor.png"
    normal_gl: str = "normal_gl.png"
    roughness: str = "roughness.png"
    metallic: str = "metallic.png"
    height: str = "height.png"
    orm: str = "orm.png"
    has_ao: bool = False


# --------------------------------------------------------------------------- maps


def safe_name(name: str) -> str:
    """A file-name-safe version of ``name`` (letters, digits, ``_-.``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("._")
    return cleaned or "material"


def _single(img: Tensor, name: str, channels: int) -> Tensor:
    """First image of a batch as float32 CPU ``(1, C, H, W)``, checking channels."""
    if img.dim() == 3:
        img = img[None]
    if img.dim() != 4 or img.shape[1] != channels:
        raise ValueError(f"map {name!r} must be (B,{channels},H,W), got {tuple(img.shape)}")
    return img[0:1].detach().to("cpu", torch.float32).clamp(0.0, 1.0)


def material_maps(graph_or_maps: Any, res: int, device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Evaluate a graph at ``res`` (or check given maps) -> single ``(1,C,H,W)`` maps.

    Given maps need basecolor, normal (OpenGL), roughness, metallic and height
    of one size; an optional ``ao`` (1 channel) fills the occlusion channel.
    """
    if isinstance(graph_or_maps, Mapping):
        raw = dict(graph_or_maps)
    else:
        if int(res) < 1:
            raise ValueError(f"res must be >= 1, got {res}")
        with torch.no_grad():
            raw = graph_or_maps.evaluate(int(res), device=device)
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValueError(f"missing map(s) {missing}; need {list(_REQUIRED)}")
    maps = {k: _single(raw[k], k, c) for k, c in _REQUIRED.items()}
    if raw.get("ao") is not None:
        maps["ao"] = _single(raw["ao"], "ao", 1)
    sizes = {tuple(m.shape[-2:]) for m in maps.values()}
    if len(sizes) != 1:
        raise ValueError(f"maps differ in size: {sorted(sizes)}")
    return maps


def flip_green(normal: Tensor) -> Tensor:
    """Convert an encoded normal map between OpenGL and DirectX conventions."""
    return torch.cat([normal[:, :1], 1.0 - normal[:, 1:2], normal[:, 2:]], dim=1)


def pack_orm(roughness: Tensor, metallic: Tensor, ao: Tensor | None = None) -> Tensor:
    """glTF packing ``(1,3,H,W)``: R = occlusion (1 if none), G = roughness, B = metallic."""
    occlusion = torch.ones_like(roughness) if ao is None else ao
    return torch.cat([occlusion, roughness, metallic], dim=1)


def _write_maps(maps: Mapping[str, Tensor], out: Path, files: MapFiles, *, normal_format: str, bits: int,
                exr: bool, need_gl: bool) -> dict[str, Path]:
    """Write the loose maps; returns ``{key: path}``."""
    normal_gl = maps["normal"]
    jobs: list[tuple[str, str, Tensor, int]] = [
        ("basecolor", files.basecolor, maps["basecolor"], bits),
        ("roughness", files.roughness, maps["roughness"], bits),
        ("metallic", files.metallic, maps["metallic"], bits),
        ("height", files.height, maps["height"], 16),
        ("orm", files.orm, pack_orm(maps["roughness"], maps["metallic"], maps.get("ao")), bits),
    ]
    if normal_format == "dx":
        jobs.insert(1, ("normal_dx", "normal_dx.png", flip_green(normal_gl), 16))
    if normal_format == "gl" or need_gl:
        jobs.insert(1, ("normal_gl", files.normal_gl, normal_gl, 16))
    written = {key: write_png(out / fname, img, bits=b) for key, fname, img, b in jobs}
    if exr:
        normal = normal_gl if normal_format == "gl" else flip_green(normal_gl)
        written["height_exr"] = write_exr(out / "height.exr", maps["height"])
        written[f"normal_{normal_format}_exr"] = write_exr(out / f"normal_{normal_format}.exr", normal)
    return written


# --------------------------------------------------------------------------- MaterialX


def _mx_library() -> Any:
    import MaterialX as mx

    lib = mx.createDocument()
    mx.loadLibraries(mx.getDefaultDataLibraryFolders(), mx.getDefaultDataSearchPath(), lib)
    return lib


def _mx_image(graph: Any, name: str, kind: str, file: str, colorspace: str) -> Any:
    """A tiling ``image`` node reading ``file`` in ``colorspace``."""
    node = graph.addNode("image", name, kind)
    node.setInputValue("file", file, "filename").setColorSpace(colorspace)
    node.setInputValue("uaddressmode", "periodic", "string")
    node.setInputValue("vaddressmode", "periodic", "string")
    return node


def _mx_nodegraph(doc: Any, name: str, files: MapFiles, height_scale: float | None) -> Any:
    """Node graph with outputs base_color, roughness, metallic, normal (and displacement)."""
    graph = doc.addNodeGraph(f"NG_{name}")
    wires = {
        "base_color": ("color3", _mx_image(graph, "basecolor_image", "color3", files.basecolor, "srgb_texture")),
        "roughness": ("float", _mx_image(graph, "roughness_image", "float", files.roughness, "raw")),
        "metallic": ("float", _mx_image(graph, "metallic_image", "float", files.metallic, "raw")),
    }
    normal_img = _mx_image(graph, "normal_image", "vector3", files.normal_gl, "raw")
    normalmap = graph.addNode("normalmap", "normalmap", "vector3")
    normalmap.setConnectedNode("in", normal_img)
    wires["normal"] = ("vector3", normalmap)
    if height_scale is not None:
        height = _mx_image(graph, "height_image", "float", files.height, "raw")
        centred = graph.addNode("subtract", "height_centred", "float")
        centred.setConnectedNode("in1", height)
        centred.setInputValue("in2", 0.5, "float")
        wires["height"] = ("float", centred)
    for port, (kind, node) in wires.items():
        graph.addOutput(f"{port}_out", kind).setConnectedNode(node)
    return graph


def _mx_connect(node: Any, port: str, kind: str, graph: Any, output: str) -> None:
    inp = node.addInput(port, kind)
    inp.setNodeGraphString(graph.getName())
    inp.setOutputString(output)


def _mx_shader(doc: Any, name: str, graph: Any, shader: str) -> Any:
    """The surface shader node with every map wired from ``graph``."""
    node = doc.addNode(shader, f"SR_{name}", "surfaceshader")
    if shader == "standard_surface":
        ports = {"base_color": "base_color", "metalness": "metallic", "specular_roughness": "roughness"}
        node.setInputValue("base", 1.0, "float")  # the default 0.8 would darken the base colour
    else:
        ports = {"base_color": "base_color", "metallic": "metallic", "roughness": "roughness"}
    for port, source in ports.items():
        _mx_connect(node, port, "color3" if port == "base_color" else "float", graph, f"{source}_out")
    _mx_connect(node, "normal", "vector3", graph, "normal_out")
    return node


def build_mtlx(name: str, files: MapFiles, *, shader: str = "standard_surface",
               height_scale: float | None = None) -> Any:
    """A validated MaterialX document for the maps in ``files``.

    ``height_scale`` (scene units for a height of 1) adds a displacement shader
    driven by ``height - 0.5``; None leaves displacement out.
    """
    import MaterialX as mx

    if shader not in SHADERS:
        raise ValueError(f"shader must be one of {SHADERS}, got {shader!r}")
    ident = mx.createValidName(name)
    doc = mx.createDocument()
    doc.setDataLibrary(_mx_library())
    doc.setColorSpace("lin_rec709")
    graph = _mx_nodegraph(doc, ident, files, height_scale)
    surface = _mx_shader(doc, ident, graph, shader)
    material = doc.addMaterialNode(f"M_{ident}", surface)
    if height_scale is not None:
        disp = doc.addNode("displacement", f"DS_{ident}", "displacementshader")
        _mx_connect(disp, "displacement", "float", graph, "height_out")
        disp.setInputValue("scale", float(height_scale), "float")
        material.addInput("displacementshader", "displacementshader").setConnectedNode(disp)
    check_mtlx(doc)
    return doc


def check_mtlx(doc: Any) -> None:
    """Raise :class:`ExportError` naming the problem if ``doc`` does not validate."""
    ok, message = doc.validate()
    if not ok:
        detail = " ".join(message.split()) or "unknown problem"
        raise ExportError(f"invalid MaterialX document: {detail}")


def mtlx_text(doc: Any) -> str:
    import MaterialX as mx

    return mx.writeToXmlString(doc)


# --------------------------------------------------------------------------- glTF


def _quad_arrays(plane: str = "floor") -> dict[str, np.ndarray]:
    """A unit quad centred at the origin, laid out as ``plane`` (see :data:`PLANES`).

    The image's right edge lies along +X and its top edge along the plane's
    "up" axis; glTF UVs have v = 0 at the image top. The normal is
    ``right x up`` and the tangent frame (tangent +X, bitangent
    ``normal x tangent`` = image up, handedness +1) matches OpenGL normal maps.
    """
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    right = np.array([1, 0, 0], np.float32)
    up = np.array(PLANES[plane], np.float32)
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    positions = (uv[:, :1] - 0.5) * right + (0.5 - uv[:, 1:]) * up
    return {
        "POSITION": positions.astype(np.float32),
        "NORMAL": np.tile(np.cross(right, up).astype(np.float32), (4, 1)),
        "TANGENT": np.tile(np.append(right, 1).astype(np.float32), (4, 1)),
        "TEXCOORD_0": uv,
        "indices": np.array([0, 1, 2, 0, 2, 3], np.uint16),
    }


def _pack_buffer(arrays: Mapping[str, np.ndarray]) -> tuple[bytes, list[dict], list[dict]]:
    """Binary blob (4-byte aligned views) plus its bufferViews and accessors."""
    blob, views, accessors = bytearray(), [], []
    for key, arr in arrays.items():
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        is_index = key == "indices"
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data),
                      "target": _ELEMENT_ARRAY_BUFFER if is_index else _ARRAY_BUFFER})
        acc: dict[str, Any] = {"bufferView": len(views) - 1, "componentType": _USHORT if is_index else _FLOAT,
                               "count": int(arr.shape[0]),
                               "type": "SCALAR" if is_index else f"VEC{arr.shape[1]}"}
        if key == "POSITION":
            acc["min"] = arr.min(axis=0).tolist()
            acc["max"] = arr.max(axis=0).tolist()
        accessors.append(acc)
        blob += data + b"\0" * (-len(data) % 4)
    return bytes(blob), views, accessors


def _gltf_material(name: str, files: MapFiles) -> tuple[dict, list[dict]]:
    """The material and its images (textures 0..2: basecolor, orm, normal)."""
    images = [{"uri": f, "mimeType": "image/png"} for f in (files.basecolor, files.orm, files.normal_gl)]
    material: dict[str, Any] = {
        "name": name,
        "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicRoughnessTexture": {"index": 1},
                                 "metallicFactor": 1.0, "roughnessFactor": 1.0},
        "normalTexture": {"index": 2, "scale": 1.0},
    }
    if files.has_ao:
        material["occlusionTexture"] = {"index": 1, "strength": 1.0}
    return material, images


def build_gltf(name: str, files: MapFiles, bin_uri: str, *, plane: str = "floor") -> tuple[dict, bytes]:
    """glTF 2.0 JSON (as a dict) and its binary buffer for a textured unit quad.

    ``plane`` is "floor" (XZ plane, normal +Y: glTF's up) or "wall" (XY plane,
    normal +Z).
    """
    from . import __version__

    arrays = _quad_arrays(plane)
    blob, views, accessors = _pack_buffer(arrays)
    attributes = {k: i for i, k in enumerate(arrays) if k != "indices"}
    material, images = _gltf_material(name, files)
    doc = {
        "asset": {"version": "2.0", "generator": f"proxymat {__version__}"},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": [{"attributes": attributes, "indices": len(arrays) - 1,
                                                  "material": 0, "mode": 4}]}],
        "materials": [material],
        "textures": [{"sampler": 0, "source": i} for i in range(len(images))],
        "images": images,
        "samplers": [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR, "wrapS": _REPEAT, "wrapT": _REPEAT}],
        "buffers": [{"uri": bin_uri, "byteLength": len(blob)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    return doc, blob


# --------------------------------------------------------------------------- writing


def _write_text(path: Path, text: str) -> Path:
    from .atomic import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as err:
        raise ImageError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    return _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _check_options(formats: tuple[str, ...], normal_format: str, bits: int, shader: str, plane: str) -> None:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown export format(s) {bad}; expected some of {FORMATS}")
    if normal_format not in ("gl", "dx"):
        raise ValueError(f"normal_format must be 'gl' or 'dx', got {normal_format!r}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if shader not in SHADERS:
        raise ValueError(f"shader must be one of {SHADERS}, got {shader!r}")
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {tuple(PLANES)}, got {plane!r}")


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImageError(f"cannot create output folder {out}: {err.strerror or err}") from None


def export_material(
    graph_or_maps: Any,
    out_dir: str | Path,
    *,
    res: int = 1024,
    formats: tuple[str, ...] | list[str] = FORMATS,
    normal_format: str = "gl",
    bits: int = 8,
    exr: bool = False,
    name: str | None = None,
    shader: str = "standard_surface",
    height_scale: float | None = None,
    plane: str = "floor",
    device: torch.device | str = "cpu",
) -> dict[str, Path]:
    """Write maps and interchange documents for a graph (evaluated at ``res``) or maps.

    Returns ``{key: path}`` with keys basecolor, normal_gl and/or normal_dx,
    roughness, metallic, height, orm, (height_exr, normal_*_exr), mtlx, gltf, bin.
    ``name`` defaults to the graph's name; ``bits`` applies to basecolor,
    roughness, metallic and orm (normal and height are always 16-bit);
    ``plane`` lays the glTF quad as a "floor" (normal +Y, glTF's up) or a
    "wall" (normal +Z); ``device`` is where the graph is evaluated.
    """
    formats = tuple(dict.fromkeys(formats))
    _check_options(formats, normal_format, bits, shader, plane)
    maps = material_maps(graph_or_maps, res, device)
    stem = safe_name(name or getattr(graph_or_maps, "name", "") or "material")
    files = MapFiles(has_ao="ao" in maps)
    docs: list[tuple[str, str, str | bytes]] = []  # built in full before anything is written
    if "gltf" in formats:
        gltf, blob = build_gltf(stem, files, f"{stem}.bin", plane=plane)
        docs += [("bin", f"{stem}.bin", blob), ("gltf", f"{stem}.gltf", json.dumps(gltf, indent=2) + "\n")]
    if "mtlx" in formats:
        docs.append(("mtlx", f"{stem}.mtlx", mtlx_text(build_mtlx(stem, files, shader=shader, height_scale=height_scale))))
    out = Path(out_dir)
    _make_dir(out)
    written = _write_maps(maps, out, files, normal_format=normal_format, bits=bits, exr=exr, need_gl=bool(formats))
    for key, fname, payload in docs:
        path = out / fname
        written[key] = _write_bytes(path, payload) if isinstance(payload, bytes) else _write_text(path, payload)
    return written


# --------------------------------------------------------------------------- tiling


def _seam_ratio(img: np.ndarray, axis: int) -> float:
    """Mean |first - last| line along ``axis`` over the mean interior neighbour difference."""
    diffs = np.abs(np.diff(img, axis=axis))
    first, last = np.take(img, 0, axis=axis), np.take(img, -1, axis=axis)
    seam = float(np.abs(first - last).mean())
    interior = float(diffs.mean())
    if interior == 0.0:
        return 0.0 if seam == 0.0 else float("inf")
    return seam / interior


def check_tileable(img: Tensor | np.ndarray) -> float:
    """Seam metric of an image ``(H,W)``, ``(C,H,W)`` or ``(1,C,H,W)``: ~1 when it tiles.

    For each axis, the mean absolute difference across the wrap-around seam
    (first vs last column, first vs last row) is divided by the mean absolute
    difference of interior neighbours; the larger of the two ratios is
    returned. A seamless texture scores about 1, a linear ramp over N pixels
    scores N - 1; a constant image scores 0.
    """
    arr = img.detach().cpu().numpy() if isinstance(img, Tensor) else np.asarray(img)
    arr = arr.astype(np.float64)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape[-2:]) < 3:
        raise ValueError(f"expected an image (H,W), (C,H,W) or (1,C,H,W) of at least 3x3, got {img.shape}")
    return max(_seam_ratio(arr, axis=2), _seam_ratio(arr, axis=1))


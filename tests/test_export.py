"""Tests of material export: loose maps, MaterialX, glTF 2.0, tileability, CLI."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import MaterialX as mx
import numpy as np
import pytest
import torch

from proxymat import export as ex
from proxymat.examples import resolve_graph
from proxymat.export import ExportError, check_mtlx, check_tileable, export_material
from proxymat.io import ImageError, read_image

RES = 64


@pytest.fixture(scope="module")
def leather():
    return resolve_graph("leather")


@pytest.fixture(scope="module")
def leather_maps(leather):
    with torch.no_grad():
        return leather.evaluate(RES)


@pytest.fixture(scope="module")
def exported(leather, tmp_path_factory):
    out = tmp_path_factory.mktemp("leather")
    written = export_material(leather, out, res=RES, normal_format="dx", exr=True)
    return out, written


def png_bit_depth(path: Path) -> int:
    return path.read_bytes()[24]


def flat_maps(h=4, w=6, ao=None):
    ramp = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
    maps = {
        "basecolor": torch.stack([torch.full((h, w), v) for v in (0.2, 0.4, 0.6)])[None],
        "normal": torch.tensor([0.5, 0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, h, w),
        "roughness": ramp.clone(),
        "metallic": torch.full((1, 1, h, w), 0.25),
        "height": 1 - ramp,
    }
    if ao is not None:
        maps["ao"] = torch.full((1, 1, h, w), ao)
    return maps


# ------------------------------------------------------------------ maps


def test_written_files_and_sizes(exported):
    out, written = exported
    expected = {"basecolor", "normal_gl", "normal_dx", "roughness", "metallic", "height", "orm",
                "height_exr", "normal_dx_exr", "mtlx", "gltf", "bin"}
    assert set(written) == expected
    assert written["mtlx"] == out / "leather.mtlx" and written["gltf"] == out / "leather.gltf"
    for key, path in written.items():
        assert path.is_file() and path.parent == out
        if path.suffix in (".png", ".exr"):
            assert tuple(read_image(path).shape[-2:]) == (RES, RES), key
    assert not list(out.glob(".*.tmp"))


def test_any_resolution(leather, tmp_path):
    written = export_material(leather, tmp_path, res=20, formats=())
    assert set(written) == {"basecolor", "normal_gl", "roughness", "metallic", "height", "orm"}
    assert read_image(written["basecolor"]).shape == (1, 3, 20, 20)


def test_map_values_match_graph(exported, leather_maps):
    _, written = exported
    height = read_image(written["height"])
    assert png_bit_depth(written["height"]) == 16 and png_bit_depth(written["normal_gl"]) == 16
    assert png_bit_depth(written["basecolor"]) == 8 and png_bit_depth(written["roughness"]) == 8
    assert torch.allclose(height, leather_maps["height"], atol=0.5 / 65535 + 1e-7)
    base = read_image(written["basecolor"])
    assert torch.allclose(base, leather_maps["basecolor"], atol=0.5 / 255 + 1e-6)
    assert torch.allclose(read_image(written["normal_gl"]), leather_maps["normal"], atol=0.5 / 65535 + 1e-7)


def test_bits16_colour_maps(tmp_path):
    written = export_material(flat_maps(), tmp_path, bits=16, formats=())
    assert png_bit_depth(written["roughness"]) == 16 and png_bit_depth(written["orm"]) == 16
    ramp = read_image(written["roughness"])[0, 0, 0]
    assert torch.allclose(ramp, torch.linspace(0, 1, 6), atol=0.5 / 65535 + 1e-7)


def test_dx_is_gl_with_green_flipped(exported):
    _, written = exported
    gl, dx = read_image(written["normal_gl"]), read_image(written["normal_dx"])
    assert torch.equal(gl[:, 0], dx[:, 0]) and torch.equal(gl[:, 2], dx[:, 2])
    assert torch.allclose(dx[:, 1], 1 - gl[:, 1], atol=1.01 / 65535)
    assert (gl[:, 1] - 0.5).abs().max() > 0.05  # the flip is visible, not a flat map


def test_exr_round_trip(exported, leather_maps):
    _, written = exported
    assert torch.equal(read_image(written["height_exr"]), leather_maps["height"])
    gl = leather_maps["normal"]
    dx = torch.cat([gl[:, :1], 1 - gl[:, 1:2], gl[:, 2:]], dim=1)
    assert torch.allclose(read_image(written["normal_dx_exr"]), dx, atol=1e-7)


def test_orm_packing_from_given_maps(tmp_path):
    written = export_material(flat_maps(ao=0.5), tmp_path, name="flat")
    orm = (read_image(written["orm"]) * 255).round()
    assert torch.all(orm[0, 0] == 128)  # rint(0.5 * 255) = 128 (ao)
    assert torch.equal(orm[0, 1, 0], torch.tensor([0.0, 51, 102, 153, 204, 255]))  # roughness ramp
    assert torch.all(orm[0, 2] == 64)  # rint(0.25 * 255) = 64 (metallic)
    base = (read_image(written["basecolor"]) * 255).round()[0, :, 0, 0]
    assert base.tolist() == [51.0, 102.0, 153.0]
    material = json.loads(written["gltf"].read_text())["materials"][0]
    assert material["occlusionTexture"] == {"index": 1, "strength": 1.0}


def test_bad_options_and_maps(tmp_path, leather):
    with pytest.raises(ValueError, match="unknown export format"):
        export_material(leather, tmp_path, res=8, formats=("fbx",))
    with pytest.raises(ValueError, match="normal_format"):
        export_material(leather, tmp_path, res=8, normal_format="gx")
    with pytest.raises(ValueError, match="bits"):
        export_material(leather, tmp_path, res=8, bits=12)
    with pytest.raises(ValueError, match="shader"):
        export_material(leather, tmp_path, res=8, shader="phong")
    with pytest.raises(ValueError, match=r"plane must be one of \('floor', 'wall'\), got 'ceiling'"):
        export_material(leather, tmp_path, res=8, plane="ceiling")
    maps = flat_maps()
    del maps["height"]
    with pytest.raises(ValueError, match="missing map"):
        export_material(maps, tmp_path)
    maps = flat_maps()
    maps["metallic"] = torch.zeros(1, 1, 5, 6)
    with pytest.raises(ValueError, match="differ in size"):
        export_material(maps, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_no_document(tmp_path, monkeypatch):
    real = ex.write_png

    def failing(path, img, bits=8):
        if Path(path).name == "orm.png":
            raise ImageError(f"cannot write {path}: disk full")
        return real(path, img, bits=bits)

    monkeypatch.setattr(ex, "write_png", failing)
    with pytest.raises(ImageError, match="disk full"):
        export_material(flat_maps(), tmp_path, name="m")
    names = {p.name for p in tmp_path.iterdir()}
    assert "basecolor.png" in names  # maps come first ...
    assert not names & {"m.gltf", "m.bin", "m.mtlx"}  # ... documents never appear
    assert not [n for n in names if n.endswith(".tmp")]


# ------------------------------------------------------------------ MaterialX


def _load_mtlx(path: Path):
    doc = mx.createDocument()
    mx.readFromXmlFile(doc, str(path))
    lib = mx.createDocument()
    mx.loadLibraries(mx.getDefaultDataLibraryFolders(), mx.getDefaultDataSearchPath(), lib)
    doc.setDataLibrary(lib)
    return doc


def _source_image_file(doc, shader, port):
    """File name of the image node that feeds ``port`` of ``shader`` (through normalmap if any)."""
    inp = shader.getInput(port)
    graph = doc.getNodeGraph(inp.getNodeGraphString())
    node = graph.getOutput(inp.getOutputString()).getConnectedNode()
    if node.getCategory() == "normalmap":
        node = node.getInput("in").getConnectedNode()
    assert node.getCategory() == "image"
    return node.getInput("file")


def test_mtlx_validates_and_references_maps(exported):
    out, written = exported
    doc = _load_mtlx(written["mtlx"])
    ok, msg = doc.validate()
    assert ok, msg
    (material,) = doc.getMaterialNodes()
    shader = material.getInput("surfaceshader").getConnectedNode()
    assert shader.getCategory() == "standard_surface"
    assert shader.getInputValue("base") == 1.0
    expect = {"base_color": ("basecolor.png", "srgb_texture"), "metalness": ("metallic.png", "raw"),
              "specular_roughness": ("roughness.png", "raw"), "normal": ("normal_gl.png", "raw")}
    for port, (fname, space) in expect.items():
        file_input = _source_image_file(doc, shader, port)
        assert file_input.getValueString() == fname
        assert file_input.getColorSpace() == space
        assert (out / fname).is_file()
    normal_src = doc.getNodeGraph(shader.getInput("normal").getNodeGraphString()).getOutput(
        shader.getInput("normal").getOutputString()).getConnectedNode()
    assert normal_src.getCategory() == "normalmap"
    assert material.getInput("displacementshader") is None


def test_mtlx_gltf_pbr_with_displacement(tmp_path):
    written = export_material(flat_maps(), tmp_path, formats=("mtlx",), shader="gltf_pbr", height_scale=0.05,
                              name="my tile #1")
    assert set(written) >= {"mtlx"} and "gltf" not in written
    assert written["mtlx"].name == "my_tile_1.mtlx"
    doc = _load_mtlx(written["mtlx"])
    ok, msg = doc.validate()
    assert ok, msg
    (material,) = doc.getMaterialNodes()
    shader = material.getInput("surfaceshader").getConnectedNode()
    assert shader.getCategory() == "gltf_pbr"
    assert _source_image_file(doc, shader, "metallic").getValueString() == "metallic.png"
    assert _source_image_file(doc, shader, "roughness").getValueString() == "roughness.png"
    disp = material.getInput("displacementshader").getConnectedNode()
    assert disp.getCategory() == "displacement"
    assert disp.getInputValue("scale") == pytest.approx(0.05)


def test_invalid_mtlx_is_reported():
    doc = mx.createDocument()
    img = doc.addNode("image", "img", "color3")
    shader = doc.addNode("standard_surface", "sr", "surfaceshader")
    shader.addInput("metalness", "float").setConnectedNode(img)  # color3 into a float
    with pytest.raises(ExportError, match="invalid MaterialX document: .*metalness"):
        check_mtlx(doc)


# ------------------------------------------------------------------ glTF

_COMPONENT = {5126: (4, "<f4"), 5123: (2, "<u2")}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def _accessor_data(gltf, blob, index):
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    size, dtype = _COMPONENT[acc["componentType"]]
    n = acc["count"] * _NCOMP[acc["type"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    assert start % size == 0 and n * size <= view["byteLength"]
    return np.frombuffer(blob, dtype, count=n, offset=start).reshape(acc["count"], -1)


def test_gltf_structure(exported):
    out, written = exported
    gltf = json.loads(written["gltf"].read_text())
    blob = written["bin"].read_bytes()
    assert gltf["asset"]["version"] == "2.0"
    (buffer,) = gltf["buffers"]
    assert buffer["uri"] == "leather.bin" and buffer["byteLength"] == len(blob)
    for view in gltf["bufferViews"]:
        assert view["byteOffset"] % 4 == 0 and view["byteOffset"] + view["byteLength"] <= len(blob)
    (prim,) = gltf["meshes"][gltf["nodes"][gltf["scenes"][gltf["scene"]]["nodes"][0]]["mesh"]]["primitives"]
    attrs = {k: _accessor_data(gltf, blob, i) for k, i in prim["attributes"].items()}
    assert {k: v.shape for k, v in attrs.items()} == {"POSITION": (4, 3), "NORMAL": (4, 3), "TANGENT": (4, 4),
                                                      "TEXCOORD_0": (4, 2)}
    pos_acc = gltf["accessors"][prim["attributes"]["POSITION"]]
    assert pos_acc["min"] == attrs["POSITION"].min(0).tolist() == [-0.5, 0.0, -0.5]  # a floor: the XZ plane
    assert pos_acc["max"] == attrs["POSITION"].max(0).tolist() == [0.5, 0.0, 0.5]
    idx = _accessor_data(gltf, blob, prim["indices"]).ravel()
    assert gltf["accessors"][prim["indices"]]["count"] == 6 and idx.max() < 4
    assert np.allclose(attrs["NORMAL"], [0, 1, 0])  # glTF's up
    _check_frame(attrs, idx)
    # v = 0 at the image top, which lies away from a viewer on the +Z side
    assert np.all(attrs["TEXCOORD_0"][attrs["POSITION"][:, 2] < 0, 1] == 0)


def _check_frame(attrs, idx):
    """Each triangle faces its NORMAL; TANGENT runs along +u and normal x tangent along -v (image up, OpenGL)."""
    pos, uv, normal, tangent = attrs["POSITION"], attrs["TEXCOORD_0"], attrs["NORMAL"], attrs["TANGENT"]
    assert np.all(tangent[:, 3] == 1.0)
    bitangent = np.cross(normal, tangent[:, :3]) * tangent[:, 3:]
    for tri in idx.reshape(-1, 3):
        e1, e2 = pos[tri[1]] - pos[tri[0]], pos[tri[2]] - pos[tri[0]]
        assert np.dot(np.cross(e1, e2), normal[tri[0]]) > 0  # counter-clockwise seen from the normal's side
        # positions as a linear function of uv on this triangle: P = P0 + du * dP/du + dv * dP/dv
        duv = np.stack([uv[tri[1]] - uv[tri[0]], uv[tri[2]] - uv[tri[0]]])
        dp_du, dp_dv = np.linalg.solve(duv, np.stack([e1, e2]))
        assert np.allclose(tangent[tri, :3], dp_du / np.linalg.norm(dp_du))
        assert np.allclose(bitangent[tri], -dp_dv / np.linalg.norm(dp_dv))


def test_gltf_wall_plane(tmp_path):
    written = export_material(flat_maps(), tmp_path, formats=("gltf",), plane="wall")
    gltf = json.loads(written["gltf"].read_text())
    blob = written["bin"].read_bytes()
    prim = gltf["meshes"][0]["primitives"][0]
    attrs = {k: _accessor_data(gltf, blob, i) for k, i in prim["attributes"].items()}
    assert gltf["accessors"][prim["attributes"]["POSITION"]]["min"] == [-0.5, -0.5, 0.0]
    assert np.allclose(attrs["NORMAL"], [0, 0, 1])
    _check_frame(attrs, _accessor_data(gltf, blob, prim["indices"]).ravel())
    assert np.all(attrs["TEXCOORD_0"][attrs["POSITION"][:, 1] > 0, 1] == 0)  # image top up


def test_gltf_material_and_textures(exported):
    out, written = exported
    gltf = json.loads(written["gltf"].read_text())
    (material,) = gltf["materials"]
    assert gltf["meshes"][0]["primitives"][0]["material"] == 0
    pbr = material["pbrMetallicRoughness"]

    def uri(texinfo):
        return gltf["images"][gltf["textures"][texinfo["index"]]["source"]]["uri"]

    assert uri(pbr["baseColorTexture"]) == "basecolor.png"
    assert uri(pbr["metallicRoughnessTexture"]) == "orm.png"
    assert uri(material["normalTexture"]) == "normal_gl.png"  # GL even though dx was asked for
    assert "occlusionTexture" not in material
    for image in gltf["images"]:
        assert (out / image["uri"]).is_file() and image["mimeType"] == "image/png"
    for sampler in gltf["samplers"]:
        assert sampler["wrapS"] == sampler["wrapT"] == 10497
    orm = read_image(out / "orm.png")
    assert torch.allclose(orm[:, 1:2], read_image(out / "roughness.png"), atol=1 / 255)
    assert torch.allclose(orm[:, 2:3], read_image(out / "metallic.png"), atol=1 / 255)
    assert torch.all(orm[:, 0] == 1.0)


# ------------------------------------------------------------------ tiling


def test_check_tileable_hand_values():
    ramp = torch.linspace(0, 1, 9).view(1, 1, 1, 9).expand(1, 1, 5, 9)
    assert check_tileable(ramp) == pytest.approx(8.0)  # seam 1 over steps of 1/8
    assert check_tileable(torch.full((4, 4), 0.3)) == 0.0
    triangle = torch.tensor([0.0, 1, 2, 3, 2, 1]).view(6, 1).expand(6, 5)  # period 6 along rows
    assert check_tileable(triangle) == pytest.approx(1.0)  # the wrap step 1 -> 0 is an ordinary step
    assert check_tileable(triangle[:4]) == pytest.approx(3.0)  # 0,1,2,3 does not wrap: seam 3, steps 1
    with pytest.raises(ValueError):
        check_tileable(torch.zeros(2, 2))


def test_exported_maps_tile(exported, leather):
    _, written = exported
    with torch.no_grad():
        big = leather.evaluate(2 * RES)
    for key, name in (("basecolor", "basecolor"), ("height", "height"), ("normal_gl", "normal")):
        img = read_image(written[key])
        assert check_tileable(img) < 1.8, key
        # a quarter of a finer evaluation is not a tile: its seam joins unrelated texels
        assert check_tileable(big[name][..., :RES, :RES]) > 2.0 * check_tileable(img), key


# ------------------------------------------------------------------ CLI


@pytest.fixture
def cli_main():
    from proxymat import cli

    return cli.main


def test_cli_export(cli_main, tmp_path, capsys):
    out = tmp_path / "o"
    code = cli_main(["export", "leather", "-o", str(out), "--res", "16", "--normal-format", "dx",
                     "--format", "gltf", "--bits", "16", "--name", "hide"])
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert str(out / "hide.gltf") in printed and str(out / "normal_dx.png") in printed
    assert all(Path(p).is_file() for p in printed)
    assert not (out / "hide.mtlx").exists()
    assert read_image(out / "basecolor.png").shape == (1, 3, 16, 16)
    assert json.loads((out / "hide.gltf").read_text())["accessors"][0]["max"] == [0.5, 0.0, 0.5]  # a floor
    assert cli_main(["export", "leather", "-o", str(out), "--res", "16", "--format", "gltf", "--plane", "wall"]) == 0
    assert json.loads((out / "leather.gltf").read_text())["accessors"][0]["max"] == [0.5, 0.5, 0.0]


def test_cli_bad_graph(cli_main, tmp_path, capsys):
    code = cli_main(["export", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("proxymat: error: ") and "missing.json" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()

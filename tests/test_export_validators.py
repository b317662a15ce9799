"""Every bundled example's export passes the Khronos glTF validator and MaterialX's own validate().

The glTF check runs ``tools/gltf-validate/validate.mjs`` with node (install it with
``npm ci --prefix tools/gltf-validate``). Without node or the validator the glTF
tests skip, unless ``PROXYMAT_REQUIRE_VALIDATORS=1`` (set by ``.ci/run``) makes
a missing validator a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import MaterialX as mx
import pytest
import torch

from proxymat.examples import list_examples, resolve_graph
from proxymat.export import export_material

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "gltf-validate"
RES = 16


def _validator_command() -> list[str]:
    """``node validate.mjs``, or skip (fail under PROXYMAT_REQUIRE_VALIDATORS=1) when unavailable."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (TOOL / "node_modules" / "gltf-validator").is_dir():
        missing = f"the glTF validator is not installed (npm ci --prefix {TOOL.relative_to(ROOT)})"
    if missing:
        if os.environ.get("PROXYMAT_REQUIRE_VALIDATORS") == "1":
            pytest.fail(f"PROXYMAT_REQUIRE_VALIDATORS=1 but {missing}")
        pytest.skip(missing)
    return [node, str(TOOL / "validate.mjs")]


def _validate(paths: list[Path]) -> tuple[int, list[dict]]:
    proc = subprocess.run([*_validator_command(), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Every bundled example exported (maps, glTF, MaterialX) at a small resolution."""
    root = tmp_path_factory.mktemp("exports")
    with torch.no_grad():
        return {name: export_material(resolve_graph(name), root / name, res=RES) for name in list_examples()}


def test_every_example_is_exported(exports):
    assert len(exports) >= 8
    for written in exports.values():
        assert {"gltf", "bin", "mtlx", "basecolor", "orm", "normal_gl"} <= set(written)


def test_gltf_exports_pass_the_khronos_validator(exports):
    code, reports = _validate([written["gltf"] for written in exports.values()])
    assert len(reports) == len(exports)
    for report in reports:
        problems = [m for m in report["messages"] if m["severity"] in ("error", "warning")]
        assert (report["errors"], report["warnings"], problems) == (0, 0, []), report["file"]
        # infos (none expected at a power-of-two resolution) would be fine; hints likewise
        assert report["infos"] == sum(m["severity"] == "info" for m in report["messages"])
    assert code == 0


def test_validator_reports_a_broken_export(exports, tmp_path):
    """The check can fail: a missing texture and a wrong accessor bound are reported."""
    src = exports["leather"]["gltf"].parent
    for path in src.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "orm.png").unlink()
    gltf = json.loads((tmp_path / "leather.gltf").read_text())
    gltf["accessors"][0]["max"] = [9.0, 9.0, 9.0]
    (tmp_path / "leather.gltf").write_text(json.dumps(gltf))
    code, (report,) = _validate([tmp_path / "leather.gltf"])
    codes = {m["code"] for m in report["messages"] if m["severity"] == "error"}
    assert code == 1 and report["errors"] >= 2
    assert {"IO_ERROR", "ACCESSOR_MAX_MISMATCH"} <= codes, codes


def _standard_libraries() -> mx.Document:
    lib = mx.createDocument()
    folders = mx.loadLibraries(mx.getDefaultDataLibraryFolders(), mx.getDefaultDataSearchPath(), lib)
    assert folders and lib.getNodeDefs(), "MaterialX standard data libraries not found"
    return lib


def test_mtlx_exports_pass_materialx_validate(exports):
    lib = _standard_libraries()
    for name, written in exports.items():
        doc = mx.createDocument()
        mx.readFromXmlFile(doc, str(written["mtlx"]))
        nodes = [n for g in [doc, *doc.getNodeGraphs()] for n in g.getNodes()]  # the document's own nodes
        doc.importLibrary(lib)
        ok, message = doc.validate()
        assert ok, f"{name}: {message}"
        assert sorted(n.getCategory() for n in nodes) == ["image"] * 4 + ["normalmap", "standard_surface",
                                                                        "surfacematerial"]
        for node in nodes:
            assert node.getNodeDef() is not None, f"{name}: no node definition for {node.getName()}"
        files = {i.getValueString() for n in nodes for i in n.getInputs() if i.getType() == "filename"}
        assert files == {"basecolor.png", "roughness.png", "metallic.png", "normal_gl.png"}
        assert all((written["mtlx"].parent / f).is_file() for f in files)
        (material,) = doc.getMaterialNodes()
        assert [s.getCategory() for s in mx.getShaderNodes(material)] == ["standard_surface"]

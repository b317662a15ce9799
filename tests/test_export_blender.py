"""Blender imports the glTF export as a floor with a correctly wired material (slow).

Needs a Python with the ``bpy`` wheel: this interpreter if it has one, else the
one named by ``PROXYMAT_BPY_PYTHON`` (e.g. ``python3.11 -m venv /tmp/bpyvenv &&
/tmp/bpyvenv/bin/pip install bpy``); skips otherwise. Run with ``-m slow``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from proxymat.examples import resolve_graph
from proxymat.export import export_material

CHECK = Path(__file__).resolve().parent / "blender_check.py"


def _bpy_python() -> str:
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    named = os.environ.get("PROXYMAT_BPY_PYTHON")
    if not named:
        pytest.skip("bpy cannot be imported and PROXYMAT_BPY_PYTHON is not set")
    return named


def _blender_report(gltf: Path) -> dict:
    proc = subprocess.run([_bpy_python(), str(CHECK), str(gltf)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("plane, normal, image_up", [("floor", [0, 0, 1], [0, 1, 0]), ("wall", [0, -1, 0], [0, 0, 1])])
def test_blender_imports_the_plane_with_its_material(tmp_path, plane, normal, image_up):
    with torch.no_grad():
        written = export_material(resolve_graph("leather"), tmp_path, res=16, formats=("gltf",), plane=plane)
    report = _blender_report(written["gltf"])
    # Blender is Z-up: a floor faces +Z, a wall faces the default front view (-Y)
    assert np.allclose(report["face_normals"], [normal, normal], atol=1e-6)
    assert np.allclose(report["image_right"], [1, 0, 0]) and np.allclose(report["image_up"], image_up)
    assert report["bitangent_signs"] == [1.0]  # UVs not mirrored: the tangent-space normal map reads as authored
    assert report["bsdf_to_output"]
    inputs = report["inputs"]
    assert inputs["Base Color"] == {"via": [], "channel": None, "image": "basecolor.png", "colorspace": "sRGB"}
    orm = {"via": ["SEPARATE_COLOR"], "image": "orm.png", "colorspace": "Non-Color"}
    assert inputs["Roughness"] == {**orm, "channel": "Green"}
    assert inputs["Metallic"] == {**orm, "channel": "Blue"}
    assert inputs["Normal"] == {"via": ["NORMAL_MAP"], "channel": None, "image": "normal_gl.png",
                                "colorspace": "Non-Color"}

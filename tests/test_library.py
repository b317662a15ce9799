"""The material library: every graph loads, is well formed, renders, tiles; thumbnails, recipes and the CLI listing."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat import library
from proxymat.cli.main import main
from proxymat.graph import Graph, GraphError
from proxymat.library import list_materials, load_material, material_names
from proxymat.library.thumbnail import THUMB_SIZE, thumbnail

ROOT = Path(__file__).resolve().parent.parent
NAMES = material_names()


@lru_cache(maxsize=None)
def maps_of(name: str, res: int = 64) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return load_material(name).evaluate(res)


def seam_ratio(img: torch.Tensor) -> float:
    """Wrap-around seam jump over the largest interior neighbour jump, worst of both axes.

    For each axis: the mean absolute difference between the last and the first
    column (row), divided by the largest such mean between two neighbouring
    interior columns (rows). A tileable image has a ratio near or below 1.
    """
    x = img[0].double()
    worst = 0.0
    for dim in (-1, -2):
        d = (x - x.roll(-1, dim)).abs()
        per_line = d.mean(dim=(0, 1 if dim == -1 else 2))  # one value per column (row) pair
        seam, interior = per_line[-1], per_line[:-1]
        worst = max(worst, float(seam / interior.max().clamp_min(1e-6)))
    return worst


def test_the_library_has_enough_graphs_and_categories():
    entries = list_materials()
    assert len(entries) >= 30
    assert len({e.category for e in entries}) >= 12
    assert sorted(e.name for e in entries) == NAMES
    for kind in ("plaster_stucco", "scratched_steel", "leather_tufted", "speckled_stone", "marble_dark"):
        assert kind in NAMES  # a match for each shared real photo


@pytest.mark.parametrize("name", NAMES)
def test_graph_is_well_formed(name):
    g = load_material(name)
    g.validate()
    assert g.name == name
    assert 15 <= len(g.nodes) <= 60
    assert g.category and len(g.description) > 20
    assert 5 <= len(g.free) <= 20
    specs = g.param_specs()
    for key, (low, high) in g.free.items():
        p = specs[key]
        assert p.kind in ("float", "int", "color", "vec2")
        assert p.low <= low < high <= p.high, key
        value = g.value(key)
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            assert low <= v <= high, f"{key}: stored value {v} outside its free range [{low}, {high}]"
    entry = next(e for e in list_materials() if e.name == name)
    assert (entry.category, entry.nodes, entry.free) == (g.category, len(g.nodes), tuple(g.free))


@pytest.mark.parametrize("name", NAMES)
def test_graph_renders_finite_maps_in_range_and_tiles(name):
    maps = maps_of(name)
    for key, m in maps.items():
        assert m.shape[-2:] == (64, 64) and torch.isfinite(m).all(), key
        assert m.min() >= 0.0 and m.max() <= 1.0, key
    assert max(maps["basecolor"].std(), maps["height"].std()) > 0.01, "a flat material"
    for key in ("basecolor", "normal", "roughness", "height"):
        assert seam_ratio(maps[key]) < 1.25, f"{key} has a seam at the texture border"


def test_seam_ratio_flags_a_graph_that_does_not_tile():
    g = Graph("t")
    noise = g.add("clouds", scale=4)
    cut = g.add("transform_2d", input=noise, scale=[0.7, 0.7])
    g.add("height_to_normal", name="normal", input=cut)
    g.set_output("basecolor", cut)
    g.set_output("normal", "normal")
    g.set_output("roughness", 0.5)
    g.set_output("metallic", 0.0)
    with torch.no_grad():
        img = g.evaluate(64)["basecolor"]
    assert seam_ratio(img) > 2.0
    g.set_output("basecolor", noise)  # the same noise before the cut tiles
    with torch.no_grad():
        assert seam_ratio(g.evaluate(64)["basecolor"]) < 1.25


def test_graph_files_equal_what_the_recipes_build():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from library_recipes import all_recipes
    finally:
        sys.path.remove(str(ROOT / "tools"))
    built = {g.name: g.dumps() for g in (r() for r in all_recipes())}
    assert sorted(built) == NAMES
    for name, text in built.items():
        assert (library.GRAPHS / f"{name}.json").read_text(encoding="utf-8") == text, \
            f"{name}.json differs from its recipe: run tools/make_library.py"


def test_every_thumbnail_exists_and_was_made_from_the_current_graph():
    import hashlib

    index = json.loads((library.THUMBS / "index.json").read_text(encoding="utf-8"))
    assert sorted(index) == NAMES
    for e in list_materials():
        with Image.open(e.thumbnail_path) as im:
            assert im.size == (THUMB_SIZE, THUMB_SIZE) and im.mode == "RGB"
        assert e.thumbnail_path.stat().st_size < 60_000
        assert index[e.name] == hashlib.sha256(e.graph_path.read_bytes()).hexdigest(), \
            f"thumbnail of {e.name} is stale: run tools/make_library_thumbs.py"


def _thumb_error(name: str) -> float:
    stored = np.asarray(Image.open(library.THUMBS / f"{name}.png").convert("RGB"), dtype=np.float64) / 255.0
    fresh = thumbnail(load_material(name))[0].permute(1, 2, 0).double().numpy()
    return float(np.abs(stored - fresh).mean())


@pytest.mark.parametrize("name", ["red_bricks", "marble_dark"])
def test_thumbnail_matches_a_fresh_render(name):
    assert _thumb_error(name) < 2.0 / 255.0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_thumbnail_matches_a_fresh_render(name):
    assert _thumb_error(name) < 2.0 / 255.0


def test_load_material_errors_are_one_line_and_name_the_file(tmp_path, monkeypatch):
    with pytest.raises(GraphError, match=r"^unknown library material 'nope' \(see `proxymat library`"):
        load_material("nope")
    (tmp_path / "broken.json").write_text('{"nodes": {"a": {"type": "no_such_node"}}, "outputs": {}}')
    monkeypatch.setattr(library, "GRAPHS", tmp_path)
    with pytest.raises(GraphError) as err:
        load_material("broken")
    assert str(err.value).startswith(f"{tmp_path / 'broken.json'}: ") and "\n" not in str(err.value)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(GraphError, match=r"library graph .*broken\.json cannot be read"):
        list_materials()


def test_cli_lists_the_library(capsys):
    assert main(["library"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "category", "nodes", "free"]
    assert sorted(line.split()[0] for line in lines[1:]) == NAMES
    row = next(line for line in lines if line.startswith("marble_dark "))
    g = load_material("marble_dark")
    assert row.split()[1:4] == ["marble", str(len(g.nodes)), str(len(g.free))]
    assert main(["library", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [e.name for e in list_materials()]
    d = next(d for d in data if d["name"] == "marble_dark")
    assert d["free"] == list(g.free) and Path(d["thumbnail"]).is_file() and Path(d["graph"]).is_file()

"""A graph's ``category`` and ``free`` keys: load, validate, round-trip, one-line errors."""

from __future__ import annotations

import json

import pytest

from proxymat.graph import Graph, GraphError


def _doc(**top) -> dict:
    doc = {
        "name": "t",
        "nodes": {
            "noise": {"type": "clouds", "params": {"scale": 4}},
            "color": {"type": "gradient_map", "inputs": {"input": "noise"}},
            "normal": {"type": "height_to_normal", "inputs": {"input": "noise"}, "params": {"intensity": 2.0}},
            "mode": {"type": "blend", "inputs": {"foreground": "noise", "background": "noise"}},
        },
        "outputs": {"basecolor": "color", "normal": "normal", "roughness": 0.5, "metallic": 0.0},
    }
    doc.update(top)
    return doc


def test_category_and_free_load_and_round_trip_exactly():
    free = {"noise.scale": [2, 12], "normal.intensity": [0.5, 4.0], "color.color_2": [0.1, 0.9]}
    g = Graph.from_dict(_doc(category="stone", free=free))
    assert g.category == "stone"
    assert g.free == {"noise.scale": (2, 12), "normal.intensity": (0.5, 4.0), "color.color_2": (0.1, 0.9)}
    data = json.loads(g.dumps())
    assert data["category"] == "stone"
    assert data["free"] == free
    assert isinstance(data["free"]["noise.scale"][0], int)  # ints stay ints
    g2 = Graph.loads(g.dumps())
    assert (g2.category, g2.free) == (g.category, g.free)
    assert g.copy().free == g.free


def test_graph_without_the_keys_writes_neither():
    g = Graph.from_dict(_doc())
    assert g.category == "" and g.free == {}
    data = g.to_dict()
    assert "category" not in data and "free" not in data


@pytest.mark.parametrize("top, message", [
    ({"free": {"noise.nope": [0, 1]}}, "free: unknown parameter 'noise.nope'"),
    ({"free": {"ghost.scale": [1, 2]}}, "free: unknown parameter 'ghost.scale'"),
    ({"free": {"noise.scale": [0, 8]}}, "free: 'noise.scale' range [0, 8] lies outside the parameter's range [1, 64]"),
    ({"free": {"normal.intensity": [3.0, 1.0]}}, "free: 'normal.intensity' range [3, 1] must have low < high"),
    ({"free": {"normal.intensity": [1.0]}}, "free: 'normal.intensity' must be a range [low, high] of two numbers, got [1.0]"),
    ({"free": {"normal.intensity": [True, 2]}}, "free: 'normal.intensity' must be a range [low, high] of two numbers, got [True, 2]"),
    ({"free": {"intensity": [0, 1]}}, "free: key 'intensity' must look like \"node.param\""),
    ({"free": {"mode.mode": [0, 2]}}, "free: 'mode.mode' is of kind enum; only float, int, color, vec2 parameters can be free"),
    ({"free": [["noise.scale", 1, 2]]}, "'free' must be an object mapping \"node.param\" keys to [low, high], got [['noise.scale', 1, 2]]"),
    ({"category": 3}, "'category' must be a one-line string of at most 40 characters, got 3"),
    ({"categroy": "x"}, "unknown top-level key(s) ['categroy']"),
])
def test_bad_keys_are_one_line_graph_errors(top, message):
    with pytest.raises(GraphError) as err:
        Graph.from_dict(_doc(**top))
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_non_finite_range_is_rejected_from_json_text():
    text = json.dumps(_doc(free={"normal.intensity": [0, 10**400]}))
    with pytest.raises(GraphError, match=r"range .* must be finite"):
        Graph.loads(text)


def test_validate_checks_free_ranges_set_after_loading():
    g = Graph.from_dict(_doc(free={"normal.intensity": [0.5, 4.0]}))
    g.free["noise.octaves"] = (1, 99)
    with pytest.raises(GraphError, match=r"lies outside the parameter's range \[1, 8\]"):
        g.validate()

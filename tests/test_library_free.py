"""Library graphs under their free ranges: every end of every range renders valid maps, no id twins are free;
library materials are addressable by name wherever a graph reference is resolved."""

from __future__ import annotations

import pytest
import torch

from proxymat.cli.main import main
from proxymat.examples import list_examples, resolve_graph
from proxymat.graph import Graph, GraphError
from proxymat.library import load_material, material_names
from proxymat.nodes.registry import is_generator, lookup

NAMES = material_names()
RES = 32
# Generator parameters that change what a layout shows, not where its regions lie: two generators of one
# type and seed that differ only in these draw the same layout (one as a shape, one as ids).
APPEARANCE = frozenset({"style", "luminance_random", "color_random"})


def _at(graph: Graph, key: str, end: float) -> Graph:
    g = graph.copy()
    node, param = key.split(".")
    spec = g.param_specs()[key]
    value = g.value(key)
    v = int(round(end)) if spec.kind == "int" else float(end)
    g.set_param(node, param, [v] * len(value) if isinstance(value, (list, tuple)) else v)
    return g


def id_twins(graph: Graph) -> list[tuple[str, str]]:
    """Pairs of generator nodes with the same type, seed and layout parameters (see :data:`APPEARANCE`)."""
    gens = [(n, node) for n, node in graph.nodes.items() if is_generator(lookup(node.type))]
    pairs = []
    for i, (a, na) in enumerate(gens):
        for b, nb in gens[i + 1:]:
            if na.type != nb.type or na.seed != nb.seed:
                continue
            keys = (set(na.params) | set(nb.params)) - APPEARANCE
            if all(graph.value(f"{a}.{k}") == graph.value(f"{b}.{k}") for k in keys):
                pairs.append((a, b))
    return pairs


@pytest.mark.parametrize("name", NAMES)
def test_every_end_of_every_free_range_renders_finite_maps_in_range(name):
    graph = load_material(name)
    assert graph.free
    for key, (low, high) in graph.free.items():
        for end in (low, high):
            with torch.no_grad():
                maps = _at(graph, key, end).evaluate(RES)
            for map_name, m in maps.items():
                assert torch.isfinite(m).all(), f"{key}={end}: {map_name} not finite"
                assert 0.0 <= float(m.min()) and float(m.max()) <= 1.0, f"{key}={end}: {map_name} out of [0, 1]"


@pytest.mark.parametrize("name", NAMES)
def test_no_free_parameter_belongs_to_a_generator_with_an_id_twin(name):
    graph = load_material(name)
    twinned = {n for pair in id_twins(graph) for n in pair}
    assert not [k for k in graph.free if k.split(".")[0] in twinned]


def test_the_twin_check_flags_a_second_copy_of_a_layout():
    g = Graph("t")
    g.add("cells", name="stones", scale=7, style="f2_minus_f1", seed=1)
    g.add("cells", name="stone_ids", scale=7, style="cell_random", seed=1)
    g.add("cells", name="other_seed", scale=7, style="cell_random", seed=2)
    g.add("cells", name="other_scale", scale=9, style="cell_random", seed=1)
    assert id_twins(g) == [("stones", "stone_ids")]


def test_a_free_range_end_changes_the_render():
    graph = load_material("cobblestone")
    key = "stones.scale"
    low, high = graph.free[key]
    with torch.no_grad():
        a = _at(graph, key, low).evaluate(RES)["basecolor"]
        b = _at(graph, key, high).evaluate(RES)["basecolor"]
    assert (a - b).abs().mean() > 0.01


def test_resolve_graph_takes_a_library_name_after_the_examples():
    assert "ceramic_tiles" in list_examples() and "ceramic_tiles" in NAMES
    assert resolve_graph("ceramic_tiles").to_dict() == Graph.loads(
        (__import__("proxymat.examples", fromlist=["x"]).example_graph_text("ceramic_tiles"))).to_dict()
    only_library = next(n for n in NAMES if n not in list_examples())
    assert resolve_graph(only_library).to_dict() == load_material(only_library).to_dict()


def test_an_unknown_graph_name_lists_examples_and_library_in_one_line():
    with pytest.raises(GraphError) as err:
        resolve_graph("no_such_material")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("'no_such_material' is neither a graph file nor a bundled example nor a library material")
    assert "examples: " + ", ".join(list_examples()) in msg and "library: " + ", ".join(NAMES) in msg


def test_render_accepts_a_library_name(tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(["render", "cork", "-o", str(out), "--res", "32"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert main(["render", "no_such_material", "-o", str(tmp_path / "x")]) == 2
    assert "nor a library material" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

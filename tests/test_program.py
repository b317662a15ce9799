"""Graph.compile(): a program validated once that evaluates like the graph; the ParamSpace of a graph."""

import pytest
import torch

from proxymat.graph import Graph, GraphError
from proxymat.nodes.generators import get_generator
from test_optimize import RES, tiny_graph


def test_a_program_evaluates_bit_for_bit_like_its_graph_with_and_without_overrides():
    g = tiny_graph()
    program = g.compile()
    u = {"lv.in_high": torch.tensor([[0.3], [0.7]]), "cells.disorder": torch.tensor([[0.2], [0.9]])}
    for overrides in (None, u):
        want = g.evaluate(RES, overrides)
        got = program.evaluate(RES, overrides)
        assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert program.evaluate(RES, u)["basecolor"].shape == (2, 3, RES, RES)


def test_a_program_validates_once_and_keeps_the_values_it_was_compiled_with(monkeypatch):
    g = tiny_graph()
    program = g.compile()
    before = program.evaluate(RES)["roughness"]
    g.set_param("rough", "out_low", 0.1)  # an edit after compiling does not reach the program
    assert torch.equal(program.evaluate(RES)["roughness"], before)
    assert not torch.equal(g.evaluate(RES)["roughness"], before)
    monkeypatch.setattr(Graph, "validate", lambda self: pytest.fail("a compiled program validates nothing"))
    program.evaluate(RES, {"lv.in_high": torch.tensor([0.5])})


def test_compile_refuses_an_invalid_graph_and_a_program_refuses_unknown_keys():
    g = tiny_graph()
    g.outputs.pop("normal")
    with pytest.raises(GraphError, match="missing output"):
        g.compile()
    program = tiny_graph().compile()
    with pytest.raises(GraphError, match=r"^unknown node in parameter key 'nope.x'$"):
        program.evaluate(RES, {"nope.x": torch.tensor([0.5])})
    with pytest.raises(GraphError, match=r"^unknown parameter in key 'lv.nope'$"):
        program.evaluate(RES, {"lv.nope": torch.tensor([0.5])})
    with pytest.raises(GraphError, match=r"^resolution -1 outside 1..8192$"):
        program.evaluate(-1)


def test_the_param_space_lists_the_graph_parameters_in_graph_order():
    g = tiny_graph()
    space = g.space()
    assert space.keys() == list(g.param_specs())
    assert space.keys("generators") == list(g.param_specs("generators"))
    assert space.keys("filters", optimizable_only=True) == list(g.normalized("filters", optimizable_only=True))
    assert space.keys("all", optimizable_only=True) == list(g.normalized("all", optimizable_only=True))
    assert space.grid_step("cells.scale") == pytest.approx(1 / 63) and space.grid_step("lv.in_high") == 0.0
    assert space.size(["cells.scale", "color.color_4"]) == 4 and len(space) == len(g.param_specs())
    spec = get_generator("cells")
    lo, hi = spec.sample_box["scale"]
    assert space.sampling_box("cells.scale", 4) == pytest.approx(((lo - 1) / 63, (hi - 1) / 63))
    pinned = next(iter(spec.fixed))
    assert space.sampling_box(f"cells.{pinned}", g.value(f"cells.{pinned}"))[0] == pytest.approx(
        float(g.normalized("generators")[f"cells.{pinned}"][0]))
    with pytest.raises(KeyError):
        space.sampling_box("lv.in_high", 0.5)
    assert g.node_spec("cells") is spec
    with pytest.raises(GraphError, match=r"^unknown node 'x'$"):
        g.node_spec("x")

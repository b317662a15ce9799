"""Graph model: building, validation errors, evaluation, gradients, JSON round trips."""

import json

import pytest
import torch

from proxymat.graph import Graph, GraphError


def simple_graph() -> Graph:
    g = Graph("simple", res=16)
    base = g.add("uniform_gray", name="base", value=0.3)
    lv = g.add("levels", name="lv", input=base, out_low=0.1, out_high=0.9)
    inv = g.add("invert", name="inv", input=lv)
    col = g.add("uniform_color", name="col", color=(0.2, 0.4, 0.6))
    g.add("rgb_split", name="split", input=col)
    g.set_output("basecolor", col)
    g.set_output("normal", [0.5, 0.5, 1.0])
    g.set_output("roughness", inv)
    g.set_output("metallic", "split:r")
    return g


def test_evaluate_values_and_shapes():
    maps = simple_graph().evaluate(16)
    assert maps["basecolor"].shape == (1, 3, 16, 16)
    assert maps["roughness"].shape == (1, 1, 16, 16)
    # levels maps 0.3 to 0.1 + 0.3 * 0.8 = 0.34; invert -> 0.66
    assert torch.allclose(maps["roughness"], torch.full_like(maps["roughness"], 0.66), atol=1e-6)
    assert torch.allclose(maps["metallic"], torch.full_like(maps["metallic"], 0.2))
    assert torch.allclose(maps["normal"][0, :, 0, 0], torch.tensor([0.5, 0.5, 1.0]))
    assert torch.allclose(maps["height"], torch.full_like(maps["height"], 0.5))  # default


def test_gradient_flows_through_overrides():
    g = simple_graph()
    values = g.normalized("filters", optimizable_only=True)
    u = values["lv.out_high"].clone().requires_grad_(True)
    maps = g.evaluate(8, {"lv.out_high": u})
    maps["roughness"].mean().backward()
    # roughness = 1 - (out_low + 0.3 (out_high - out_low)); d/d(out_high) = -0.3; out_high spans [0, 1]
    assert u.grad is not None and u.grad.item() == pytest.approx(-0.3, abs=1e-5)


def test_batched_overrides_give_batched_maps():
    g = simple_graph()
    u = torch.tensor([[0.0], [0.5], [1.0]])
    maps = g.evaluate(8, {"base.value": u})
    assert maps["roughness"].shape[0] == 3 and maps["basecolor"].shape[0] == 3
    r = maps["roughness"][:, 0, 0, 0]
    assert torch.allclose(r, 1 - (0.1 + u[:, 0] * 0.8), atol=1e-6)


def test_save_load_bit_identical(tmp_path):
    g = simple_graph()
    values = g.normalized("filters", optimizable_only=True)
    values["lv.out_low"] = torch.tensor([0.123456789])
    g.set_normalized(values)
    path = g.save(tmp_path / "g.json")
    h = Graph.load(path)
    a, b = g.evaluate(16), h.evaluate(16)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert h.to_dict() == g.to_dict()


def test_set_normalized_rounds_discrete():
    g = Graph(res=8)
    base = g.add("uniform_gray", name="base")
    g.add("blend", name="bl", foreground=base, background=base)
    g.set_output("basecolor", "bl")
    g.set_output("normal", [0.5, 0.5, 1.0])
    g.set_output("roughness", 0.5)
    g.set_output("metallic", 0.0)
    modes = g.param_specs()["bl.mode"].choices
    g.set_normalized({"bl.mode": torch.tensor([1.0 / (len(modes) - 1) * 2 + 0.01])})
    assert g.nodes["bl"].params["mode"] == modes[2]


def _doc(**overrides):
    doc = {
        "format": "proxymat-graph",
        "version": 1,
        "nodes": {"a": {"type": "uniform_gray", "params": {"value": 0.2}}, "b": {"type": "invert", "inputs": {"input": "a"}}},
        "outputs": {"basecolor": "b", "normal": [0.5, 0.5, 1.0], "roughness": "a", "metallic": 0.0},
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d["nodes"]["a"].update(type="uniform_grey"), "unknown node type 'uniform_grey' (did you mean 'uniform_gray'"),
        (lambda d: d["nodes"]["b"].update(inputs={"source": "a"}), "has no input 'source'"),
        (lambda d: d["nodes"]["b"].update(inputs={}), "missing required input 'input'"),
        (lambda d: d["nodes"]["b"].update(inputs={"input": "zz"}), "unknown node 'zz'"),
        (lambda d: d["nodes"]["b"].update(inputs={"input": "a:r"}), "unknown output 'r' of node 'a'"),
        (lambda d: d["nodes"]["a"].update(params={"value": 1.5}), "outside range"),
        (lambda d: d["nodes"]["a"].update(params={"value": "high"}), "expected a number"),
        (lambda d: d["nodes"]["a"].update(params={"valeu": 0.1}), "has no parameter 'valeu'"),
        (lambda d: d["outputs"].pop("roughness"), "missing output"),
        (lambda d: d["outputs"].update(albedo="a"), "unknown output map 'albedo'"),
        (lambda d: d["outputs"].update(roughness=2.0), "must be a finite number in [0, 1]"),
        (lambda d: d.update(version=7), "unsupported graph version"),
        (lambda d: d.update(res=10**9), "'res' must be an integer"),
        (lambda d: d["nodes"].update({"bad name": {"type": "invert", "inputs": {"input": "a"}}}), "invalid node name"),
    ],
)
def test_validation_errors(mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(GraphError) as info:
        Graph.from_dict(doc)
    assert message in str(info.value)


def test_cycle_is_reported_with_path():
    doc = _doc()
    doc["nodes"]["c"] = {"type": "invert", "inputs": {"input": "d"}}
    doc["nodes"]["d"] = {"type": "invert", "inputs": {"input": "c"}}
    with pytest.raises(GraphError, match=r"cycle: (c -> d -> c|d -> c -> d)"):
        Graph.from_dict(doc)


def test_nan_and_invalid_json_rejected():
    text = json.dumps(_doc()).replace("0.2", "NaN")
    with pytest.raises(GraphError, match="invalid number NaN"):
        Graph.loads(text)
    with pytest.raises(GraphError, match="invalid JSON"):
        Graph.loads("{not json")
    with pytest.raises(GraphError, match="JSON object"):
        Graph.loads("[1, 2]")


def test_load_missing_file_message(tmp_path):
    with pytest.raises(GraphError, match="graph file not found"):
        Graph.load(tmp_path / "nope.json")


def test_resolution_limit():
    with pytest.raises(GraphError, match="resolution"):
        simple_graph().evaluate(100000)

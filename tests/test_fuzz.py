"""Property-based fuzzing: graph parsing only ever fails with GraphError, and the
normalized parameter space round-trips for every parameter of every node type."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxymat.graph import MAP_CHANNELS, Graph, GraphError
from proxymat.nodes.registry import all_node_types

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL_TYPES = ["levels", "blend", "cells", "blur", "height_to_normal", "uniform_color", "perlin_noise", "gradient_map"]
PORTS = ["input", "foreground", "background", "mask", "output", "bogus", ""]

huge_ints = st.one_of(st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
                      st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**12, 10**30, -1, 0]))
floats = st.floats(allow_nan=True, allow_infinity=True)
any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
scalars = st.one_of(st.none(), st.booleans(), huge_ints, floats, st.text(max_size=12), any_text,
                    st.sampled_from(["NaN", "nan", "Infinity", "-inf", "1e999", "0x10", " 1", "euclidean", "multiply"]))
json_values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                          st.dictionaries(st.one_of(st.text(max_size=8), any_text), kids, max_size=4)),
                           max_leaves=30)


def _dumps(value: object) -> str:
    """JSON text as a user might write it (NaN/Infinity appear as bare literals)."""
    return json.dumps(value)


def _check_outcome(text: str) -> None:
    """The property: a validated, round-tripping Graph, or GraphError, nothing else."""
    try:
        g = Graph.loads(text)
    except GraphError as err:
        assert str(err).strip(), "GraphError without a message"
        return
    g.validate()
    again = Graph.loads(g.dumps())
    assert again.to_dict() == g.to_dict()


@FUZZ
@given(json_values)
def test_arbitrary_json_values_only_raise_grapherror(value):
    _check_outcome(_dumps(value))


JSONISH = '{}[]":,0123456789.eE-+ \\/ntrufalsNIaiy'


@FUZZ
@given(st.one_of(st.text(max_size=200), st.text(JSONISH, max_size=200), any_text))
def test_arbitrary_text_only_raises_grapherror(text):
    _check_outcome(text)


@pytest.mark.parametrize("depth", [50, 5_000, 100_000])
def test_deep_nesting_is_a_grapherror(depth):
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        with pytest.raises(GraphError):
            Graph.loads(text)


def test_integer_too_long_for_python_is_a_grapherror():
    """json.loads raises a plain ValueError past Python's 4300-digit int limit."""
    digits = "1" + "0" * 5000
    with pytest.raises(GraphError, match="invalid JSON"):
        Graph.loads(digits)
    with pytest.raises(GraphError, match="invalid JSON"):
        Graph.loads('{"nodes": {"a": {"type": "levels", "params": {"in_low": %s}}}}' % digits)


# ----------------------------------------------------------- plausible documents
def mostly(valid, junk, odds: int):
    """``valid`` about ``odds`` times out of ``odds + 1``, else ``junk`` (``odds`` 0: always valid)."""
    if odds == 0:
        return valid
    return st.sampled_from([True] * odds + [False]).flatmap(lambda ok: valid if ok else junk)


def coin(odds: int):
    return mostly(st.just(True), st.just(False), odds)


unit = st.floats(min_value=0, max_value=1)
junk_values = st.one_of(scalars, st.lists(st.one_of(huge_ints, floats, st.text(max_size=3)), max_size=4),
                        st.integers(min_value=-5, max_value=50), st.sampled_from(["euclidean", "multiply", "copy"]))


def spec_value(p):
    """A valid value of parameter ``p`` (as JSON would hold it)."""
    return st.lists(unit, min_size=p.size, max_size=p.size).map(lambda u: _jsonable(p.denormalize(u)))


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def refs(names, odds, upstream=None):
    """References, mostly to ``upstream`` nodes (keeps most graphs acyclic), else to any node or junk."""
    def to(pool, ports):
        return st.one_of(st.sampled_from(pool), st.builds(lambda n, p: f"{n}:{p}", st.sampled_from(pool), st.sampled_from(ports)))
    return mostly(to(upstream or names, ["output"]), st.one_of(to(names, PORTS), scalars), odds)


@st.composite
def plausible_nodes(draw, names, upstream, odds):
    ntype = draw(mostly(st.sampled_from(REAL_TYPES), st.one_of(st.text(max_size=10), scalars), odds))
    spec = all_node_types().get(ntype) if isinstance(ntype, str) else None
    node: dict = {"type": ntype}
    ports = [p.name for p in getattr(spec, "inputs", ())]
    inputs = {port: draw(refs(names, odds, upstream)) for port in ports if draw(coin(odds))}
    if not draw(coin(odds)):
        inputs.update(draw(st.dictionaries(st.sampled_from(PORTS), refs(names, odds), max_size=2)))
    if inputs or draw(st.booleans()):
        node["inputs"] = inputs
    params = {}
    for p in getattr(spec, "params", ()):
        if draw(st.booleans()):
            params[p.name] = draw(mostly(spec_value(p), junk_values, odds))
    if not draw(coin(odds)):
        params[draw(st.text(max_size=6))] = draw(junk_values)
    if params or draw(st.booleans()):
        node["params"] = params
    if draw(st.booleans()):
        node["seed"] = draw(mostly(st.integers(-(2**31) + 1, 2**31 - 1), st.one_of(huge_ints, scalars), odds))
    if not draw(coin(3 * odds)):
        node["junk"] = 1
    return node


@st.composite
def plausible_graphs(draw):
    """Graph documents: junk-ridden (odds 3), mostly well formed (40) or clean apart from wiring (0)."""
    odds = draw(st.sampled_from([3, 40, 0]))
    names = draw(st.lists(mostly(st.sampled_from(["a", "b", "c", "n1", "grain"]), st.text(max_size=6), odds),
                          min_size=1, max_size=4, unique=True))
    nodes = {n: draw(plausible_nodes(names, names[:k], odds)) for k, n in enumerate(names)}
    outs = mostly(st.one_of(refs(names, odds), unit, st.lists(unit, min_size=1, max_size=3)), scalars, odds)
    outputs = {m: draw(outs) for m in ("basecolor", "normal", "roughness", "metallic") if draw(coin(odds))}
    outputs.update(draw(st.dictionaries(mostly(st.sampled_from(list(MAP_CHANNELS)), st.text(max_size=6), odds), outs, max_size=2)))
    doc: dict = {"nodes": nodes, "outputs": outputs}
    for key, values in (("format", mostly(st.just("proxymat-graph"), scalars, odds)),
                        ("version", mostly(st.just(1), scalars, odds)),
                        ("seed", mostly(st.integers(-1000, 1000), huge_ints, odds)),
                        ("res", mostly(st.integers(1, 8192), huge_ints, odds)),
                        ("name", mostly(st.text(max_size=8), scalars, odds))):
        if draw(st.booleans()):
            doc[key] = draw(values)
    return doc


@FUZZ
@given(plausible_graphs())
def test_plausible_graph_documents_only_raise_grapherror(doc):
    _check_outcome(_dumps(doc))


@st.composite
def almost_valid_graphs(draw):
    """A valid levels -> outputs graph with one field replaced by a random value."""
    doc = {"format": "proxymat-graph", "version": 1, "seed": 0, "res": 64,
           "nodes": {"g": {"type": "perlin_noise", "params": {}},
                     "l": {"type": "levels", "inputs": {"input": "g"}, "params": {"in_low": 0.1}}},
           "outputs": {"basecolor": "l", "normal": [0.5, 0.5, 1.0], "roughness": 0.5, "metallic": 0.0}}
    where = draw(st.sampled_from(["seed", "res", "node_seed", "param", "ref", "output", "type"]))
    value = draw(st.one_of(junk_values, unit))
    if where in ("seed", "res"):
        doc[where] = value
    elif where == "node_seed":
        doc["nodes"]["g"]["seed"] = value
    elif where == "param":
        doc["nodes"]["l"]["params"][draw(st.sampled_from(["in_low", "in_high", "in_mid", "out_low"]))] = value
    elif where == "ref":
        doc["nodes"]["l"]["inputs"]["input"] = value
    elif where == "output":
        doc["outputs"][draw(st.sampled_from(list(MAP_CHANNELS)))] = value
    else:
        doc["nodes"]["l"]["type"] = value
    return doc


@FUZZ
@given(almost_valid_graphs())
def test_almost_valid_graphs_only_raise_grapherror(doc):
    _check_outcome(_dumps(doc))


def test_fuzz_base_document_is_valid():
    """The document the mutations start from loads (so mutations test real checks)."""
    g = Graph.loads(json.dumps({"nodes": {"g": {"type": "perlin_noise"}, "l": {"type": "levels", "inputs": {"input": "g"}}},
                                "outputs": {"basecolor": "l", "normal": [0.5, 0.5, 1.0], "roughness": 0.5, "metallic": 0.0}}))
    assert g.order() == ["g", "l"]


@pytest.mark.parametrize("seed", [2**31, -(2**31) - 1, 2**63, 10**30])
def test_seed_outside_range_is_rejected_at_load(seed):
    """Seeds too large for the generators' int64 hashing are refused up front, not at render time."""
    doc = {"nodes": {"g": {"type": "perlin_noise"}}, "outputs": {"basecolor": "g", "normal": "g", "roughness": "g", "metallic": 0}}
    with pytest.raises(GraphError, match="seed"):
        Graph.loads(json.dumps({**doc, "seed": seed}))
    doc["nodes"]["g"]["seed"] = seed
    with pytest.raises(GraphError, match="seed"):
        Graph.loads(json.dumps(doc))


def test_float_param_too_large_for_a_float_is_a_grapherror():
    doc = {"nodes": {"l": {"type": "uniform_gray", "params": {}}},
           "outputs": {"basecolor": "l", "normal": "l", "roughness": "l", "metallic": 0}}
    p = next(p.name for p in all_node_types()["uniform_gray"].params if p.kind == "float")
    doc["nodes"]["l"]["params"][p] = 10**400
    with pytest.raises(GraphError, match=p):
        Graph.loads(json.dumps(doc))


@pytest.mark.parametrize("where", ["seed", "node_seed", "float", "int", "output"])
def test_python_ints_beyond_the_digit_limit_are_grapherrors(where):
    """Through the Python API (no JSON parser in the way) even 10**5000 is reported, not crashed on."""
    big = 10**5000
    doc = {"seed": 0, "nodes": {"c": {"type": "cells", "params": {}}},
           "outputs": {"basecolor": "c", "normal": "c", "roughness": "c", "metallic": 0}}
    if where == "seed":
        doc["seed"] = big
    elif where == "node_seed":
        doc["nodes"]["c"]["seed"] = -big
    elif where == "float":
        doc["nodes"]["c"]["params"]["disorder"] = big
    elif where == "int":
        doc["nodes"]["c"]["params"]["scale"] = big
    else:
        doc["outputs"]["metallic"] = big
    with pytest.raises(GraphError) as info:
        Graph.from_dict(doc)
    assert len(str(info.value)) < 400


def test_node_name_with_trailing_newline_is_rejected():
    doc = {"nodes": {"g\n": {"type": "perlin_noise"}}, "outputs": {"basecolor": "g\n", "normal": "g\n", "roughness": 0.5, "metallic": 0}}
    with pytest.raises(GraphError, match="invalid node name"):
        Graph.loads(json.dumps(doc))


# ------------------------------------------------------------ parameter spaces
ALL_PARAMS = sorted(((t, p) for t, s in all_node_types().items() for p in s.params), key=lambda tp: (tp[0], tp[1].name))


def test_every_node_type_has_params_to_fuzz():
    assert len(ALL_PARAMS) > 100
    assert {p.kind for _, p in ALL_PARAMS} >= {"float", "int", "enum", "color", "vec2"}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_normalize_denormalize_roundtrip_every_param(data):
    ntype, p = data.draw(st.sampled_from(ALL_PARAMS), label="param")
    u = data.draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=p.size, max_size=p.size), label="u")
    value = p.denormalize(u)
    assert p.validate(value) == value, f"{ntype}.{p.name}"
    back = p.normalize(value)
    assert back.shape == (p.size,) and bool(((back >= 0) & (back <= 1)).all())
    if p.discrete:
        assert p.denormalize(back) == value, f"{ntype}.{p.name}: discrete round trip not idempotent"
        assert torch.equal(p.normalize(p.denormalize(back)), back)
    else:
        expect = torch.tensor(u, dtype=torch.float32) if p.high > p.low else torch.zeros(p.size)
        assert torch.allclose(back, expect, atol=1e-5, rtol=0), f"{ntype}.{p.name}: {back.tolist()} != {u}"


@pytest.mark.parametrize("ntype,p", ALL_PARAMS, ids=[f"{t}.{p.name}" for t, p in ALL_PARAMS])
def test_param_space_corners(ntype, p):
    """Corners of the normalized box map to the range ends (every param, deterministically)."""
    lo, hi = p.denormalize([0.0] * p.size), p.denormalize([1.0] * p.size)
    assert p.validate(lo) == lo and p.validate(hi) == hi
    assert p.to_numbers(lo) == pytest.approx([p.low] * p.size)
    assert p.to_numbers(hi) == pytest.approx([p.high] * p.size)
    assert math.isfinite(sum(p.normalize(p.default).tolist()))

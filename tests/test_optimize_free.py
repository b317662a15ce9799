"""A graph's declared free parameters: only they move, in every stage, and each stays within its range."""

import pytest
import torch

from proxymat.graph import GraphError
from proxymat.optimize.free import free_bounds, intersect, restrict
from proxymat.optimize.stages import Optimization
from test_optimize import CountingProxy, config, target, tiny_graph  # noqa: F401 - target is a fixture

FREE = {"cells.scale": (3, 7), "cells.disorder": (0.3, 0.45),
        "color.color_4": (0.2, 0.7), "rough.out_low": (0.25, 0.5)}


def free_graph():
    g = tiny_graph()
    g.set_param("cells", "disorder", 0.4)  # every free value starts inside its range
    g.free = dict(FREE)
    return g


def values(graph) -> dict:
    return {k: graph.value(k) for k in graph.param_specs("all")}


def test_free_bounds_are_normalized_and_checked():
    b = free_bounds(free_graph())
    assert b["cells.scale"] == pytest.approx(((3 - 1) / 63, (7 - 1) / 63))
    assert b["rough.out_low"] == pytest.approx((0.25, 0.5))
    assert free_bounds(tiny_graph()) is None
    g = tiny_graph()
    g.free = {"cells.nope": (0, 1)}
    with pytest.raises(GraphError, match=r"^free parameter 'cells.nope' is not a parameter of graph 'tiny'$"):
        free_bounds(g)
    g.free = {"cells.disorder": (0.6, 0.2)}
    with pytest.raises(GraphError, match="range low 0.6 is above high 0.2"):
        free_bounds(g)
    assert restrict({"a": 1, "b": 2}, {"a": (0, 1)}) == {"a": 1}
    assert restrict({"a": 1, "b": 2}, None) == {"a": 1, "b": 2}
    assert intersect((0.2, 0.6), (0.5, 0.9)) == (0.5, 0.6)
    assert intersect((0.2, 0.4), (0.5, 0.9)) == (0.5, 0.9)


def test_only_free_parameters_move_in_every_stage_and_stay_in_range(target):
    graph = free_graph()
    before = values(graph)
    run = Optimization(graph, target, config(sweep_iters=3, search_refit=2, search_refit_iters=2, polish=16),
                       proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    assert run.evaluator.category_trials() == []  # no categorical parameter is free: the sweep changes nothing
    assert run.evaluator.keys("generators") == ["cells.scale", "cells.disorder"]
    assert run.evaluator.keys("all") == [k for k in graph.param_specs() if k in FREE] == list(run.evaluator.values("all"))
    assert set(run.evaluator.generator_bounds()) == {"cells.scale", "cells.disorder"}
    assert run.evaluator.generator_bounds()["cells.disorder"] == pytest.approx((0.3, 0.45))  # inside the proxy's box
    seen = {}
    for stage in (run.stage1, run.sweep, run.stage2, run.polish, run.stage3):
        stage()
        seen[run.records[-1].name] = values(run.graph)
    result = run.run()
    seen["final"] = values(result.graph)
    moved = set()
    for name, now in seen.items():
        for key, value in now.items():
            if key not in FREE:
                assert value == before[key], f"{name} moved {key}"
                continue
            if value != before[key]:
                moved.add(key)
            low, high = FREE[key]
            for v in value if isinstance(value, tuple) else (value,):
                assert low - 1e-6 <= v <= high + 1e-6, f"{name}: {key}={value} outside {FREE[key]}"
    assert {"color.color_4", "rough.out_low"} <= moved  # the filters moved, within range
    assert moved & {"cells.scale", "cells.disorder"}  # and the generator parameters too


def test_a_graph_without_free_moves_filters_outside_any_free_range(target):
    run = Optimization(tiny_graph(), target, config(), progress=False, log=lambda s: None)
    run.stage1()
    assert set(run.evaluator.category_trials()) >= {("cells.style", "f1"), ("cells.distance", "chebyshev")}
    moved = {k for k, v in values(run.graph).items() if v != values(tiny_graph())[k]}
    assert {"lv.in_high", "normal.intensity"} <= moved  # not free in FREE, free here
    torch.testing.assert_close(run.graph.normalized("generators")["cells.scale"], tiny_graph().normalized("generators")["cells.scale"])


def test_a_graph_with_only_generator_parameters_free_keeps_its_filters(target):
    g = tiny_graph()
    g.free = {"cells.scale": (3, 7)}
    run = Optimization(g, target, config(polish=8), proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    result = run.run()
    assert [r.name for r in result.records] == ["stage1", "stage2", "polish", "stage3"]
    assert result.records[0].curve == [] and result.records[0].loss_end == result.records[0].loss_start
    assert {k: v for k, v in values(result.graph).items() if k != "cells.scale"} == \
        {k: v for k, v in values(tiny_graph()).items() if k != "cells.scale"}
    assert 3 <= result.graph.value("cells.scale") <= 7

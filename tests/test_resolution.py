"""The resolution rules (proxymat.resolution) and that every command and library check uses them."""

from __future__ import annotations

import pytest

from proxymat.resolution import GRAPH_RES, MAP_RES, OPTIMIZE_RES, PROXY_RES, ResolutionRule


def test_a_rule_accepts_integers_in_its_range_and_says_why_not():
    assert MAP_RES.accepts(8) and MAP_RES.accepts(4096) and MAP_RES.accepts(100)
    assert not MAP_RES.accepts(7) and not MAP_RES.accepts(4097) and not MAP_RES.accepts(True)
    assert not MAP_RES.accepts(64.0)  # type: ignore[arg-type]
    assert MAP_RES.problem(100) is None
    assert MAP_RES.problem(7) == "resolution must be between 8 and 4096, got 7"
    assert OPTIMIZE_RES.problem(100) == "resolution must be a power of two between 64 and 512, got 100"


def test_power_of_two_rules_list_their_choices():
    assert OPTIMIZE_RES.choices() == (64, 128, 256, 512)
    assert ResolutionRule(3, 17, power_of_two=True).choices() == (4, 8, 16)
    assert PROXY_RES.choices()[0] == 4 and PROXY_RES.choices()[-1] == 8192
    assert all(PROXY_RES.accepts(r) for r in PROXY_RES.choices()) and not PROXY_RES.accepts(48)
    with pytest.raises(ValueError, match="power-of-two rules only"):
        MAP_RES.choices()


def test_the_rules_nest():
    """Whatever a command accepts, a graph can evaluate."""
    for rule in (MAP_RES, OPTIMIZE_RES, PROXY_RES):
        assert GRAPH_RES.lo <= rule.lo and rule.hi <= GRAPH_RES.hi


def test_commands_use_the_map_and_optimize_rules(capsys):
    from proxymat.cli import build_parser

    for argv in (["render", "leather", "-o", "x", "--res", "4097"], ["gallery", "cells", "-o", "x", "--res", "7"],
                 ["export", "leather", "-o", "x", "--res", "5000"], ["bench", "graph", "--res", "3"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.endswith(f"argument --res: {MAP_RES.problem(int(argv[-1]))}"), argv
    with pytest.raises(SystemExit):
        build_parser().parse_args(["optimize", "--res", "100"])
    assert "invalid choice: 100 (choose from 64, 128, 256, 512)" in capsys.readouterr().err


def test_the_library_uses_the_graph_and_proxy_rules():
    from proxymat.examples import resolve_graph
    from proxymat.graph import Graph, GraphError
    from proxymat.proxy.model import ProxyConfig

    graph = resolve_graph("leather")
    with pytest.raises(GraphError, match=r"resolution 8193 outside 1\.\.8192"):
        graph.evaluate(8193)
    with pytest.raises(GraphError, match=r"'res' must be an integer in 1\.\.8192, got 0"):
        Graph.from_dict({**graph.to_dict(), "res": 0})
    with pytest.raises(ValueError, match="ProxyConfig: resolution must be a power of two between 4 and 8192, got 48"):
        ProxyConfig(n_params=2, res=48)

"""Stage II's direct gradients (``OptimizeConfig.gradients = "direct"``): generator nodes whose spec declares
direct parameters are evaluated by the real generator with autograd instead of a proxy."""

from dataclasses import replace

import pytest
import torch

from proxymat.examples import resolve_graph
from proxymat.optimize.evaluator import Evaluator
from proxymat.optimize.loss import LossConfig
from proxymat.optimize.stages import Optimization, OptimizeConfig

RES = 64


def _target(disorder: float) -> tuple:
    graph = resolve_graph("leather")
    truth = graph.copy()
    truth.set_param("grain", "disorder", disorder)
    truth.seed = graph.seed + 1  # another layout, as a photo would have
    from proxymat.render import render

    with torch.no_grad():
        return graph, render(truth.evaluate(RES))


def _config(gradients: str, **kw) -> OptimizeConfig:
    return OptimizeConfig(res=RES, loss=LossConfig(scales=(1.0, 0.5)), gradients=gradients, **kw)


class _StandInProxy:
    """Stands for a loaded cells proxy: the evaluator only asks what it pins and reads its parameter names."""

    fixed = {"distance": 0.0, "style": 2.0, "edge_width": 0.1, "luminance_random": 0.0}
    param_names = ("scale", "disorder")


def test_direct_nodes_replace_the_proxy_only_when_asked():
    graph, target = _target(0.3)
    proxy = {"cells": _StandInProxy()}
    ev = Evaluator(graph, target, _config("proxy"), proxy, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset() and set(ev.proxy_nodes) == {"grain"}
    ev = Evaluator(graph, target, _config("direct"), proxy, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset({"grain"}) and ev.proxy_nodes == {}
    assert ev.usable_proxies(graph) == {} and set(ev.applicable_proxies(graph)) == {"grain"}


def test_auto_gradients_go_direct_only_where_no_proxy_fits():
    graph, target = _target(0.3)
    ev = Evaluator(graph, target, _config("auto"), {"cells": _StandInProxy()}, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset() and set(ev.proxy_nodes) == {"grain"}  # the proxy fits: it is used
    ev = Evaluator(graph, target, _config("auto"), {}, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset({"grain"}) and ev.proxy_nodes == {}  # no proxy: direct gradients
    other = graph.copy()
    other.set_param("grain", "distance", "manhattan")  # the proxy was trained with euclidean cells only
    ev = Evaluator(other, target, _config("auto"), {"cells": _StandInProxy()}, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset({"grain"}) and ev.proxy_nodes == {}


def test_direct_hook_differentiates_only_the_declared_parameters():
    graph = resolve_graph("bricks")  # brick_generator's offset is not direct (rows jump between bricks)
    node = next(n for n in graph.nodes if graph.node_spec(n).name == "brick_generator")
    ev = Evaluator(graph, torch.zeros(1, 3, RES, RES), _config("direct"), {}, torch.device("cpu"), lambda s: None)
    values = {k: v.clone().requires_grad_(True) for k, v in ev.values("generators").items() if k.startswith(node + ".")}
    out = ev.render_values(graph.compile(), values, hook=ev.proxy_hook).mean()
    grads = dict(zip(values, torch.autograd.grad(out, list(values.values()), allow_unused=True)))
    assert grads[f"{node}.offset"] is None and grads[f"{node}.gap_x"] is not None


def test_direct_hook_gives_the_generator_parameters_a_gradient():
    graph, target = _target(0.3)
    grads = {}
    for mode in ("proxy", "direct"):
        ev = Evaluator(graph, target, _config(mode), {}, torch.device("cpu"), lambda s: None)
        values = {k: v.clone().requires_grad_(True) for k, v in ev.values("generators").items()}
        values = {k: v for k, v in values.items() if k.startswith("grain.")}  # only the generator moves
        loss = ev.loss(ev.render_values(graph.compile(), values, hook=ev.proxy_hook))
        grads[mode] = torch.autograd.grad(loss, values["grain.disorder"])[0] if loss.requires_grad else None
    assert grads["proxy"] is None  # the real generator without a proxy: nothing reaches the parameters
    assert float(grads["direct"].abs().sum()) > 0.0


@pytest.mark.slow
def test_stage2_moves_disorder_towards_the_target_by_direct_gradients():
    graph, target = _target(0.2)  # the graph starts at 0.8
    settings = dict(iters1=20, iters2=60, iters3=0, stage3=False, samples=4, rescore=0, polish=0, sweep_iters=0,
                    search_refit=0, random_search=False, stage2_check=0)
    moved = {}
    for mode in ("proxy", "direct"):
        said = []
        run = Optimization(graph, target, _config(mode, **settings), proxies={}, progress=False, log=said.append)
        moved[mode] = run.run().graph.value("grain.disorder")
        if mode == "direct":
            assert any("direct gradients through the real generator for node(s) grain" in s for s in said)
    assert moved["proxy"] == pytest.approx(0.8)  # nothing moves it without a proxy or direct gradients
    assert moved["direct"] < 0.7


def test_layout_noise_is_the_largest_relative_loss_difference_between_layouts():
    from proxymat.optimize.sweep import layout_noise

    graph, target = _target(0.3)
    ev = Evaluator(graph, target, _config("proxy"), {}, torch.device("cpu"), lambda s: None)
    filters = ev.values("filters")
    assert layout_noise(ev, graph, filters, 0) == 0.0
    own = ev.real_loss(graph)
    losses = []
    for k in (1, 2):
        other = graph.copy()
        other.seed = graph.seed + k
        losses.append(ev.real_loss(other))
    expected = max(abs(x - own) / own for x in losses)
    assert expected > 0.0 and layout_noise(ev, graph, filters, 2) == pytest.approx(expected)


def test_a_sweep_change_must_beat_the_layout_noise():
    graph, target = _target(0.8)
    settings = dict(iters1=5, iters2=0, stage3=False, polish=0, sweep_iters=3, sweep_rounds=1, random_search=False,
                    samples=2, search_refit=0)
    notes = {}
    for noise in (0, 3):
        said = []
        run = Optimization(graph, target, _config("proxy", sweep_noise=noise, **settings), proxies={}, progress=False,
                           log=said.append)
        run.run()
        notes[noise] = [s for s in said if s.startswith("Category sweep")]
    assert not any("differs by up to" in s for s in notes[0])
    assert any("differs by up to" in s and "between 4 layouts" in s for s in notes[3])


def test_straight_direct_goes_straight_through_a_fitting_proxy_and_direct_elsewhere():
    from proxymat.optimize.proxies import load_graph_proxies

    graph, target = _target(0.3)
    proxies = load_graph_proxies(graph, log=lambda s: None)
    ev = Evaluator(graph, target, _config("straight+direct"), proxies, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset() and set(ev.proxy_nodes) == {"grain"}
    spec = graph.node_spec("grain")
    real, norm = graph.generator_inputs("grain")
    norm = {k: v.clone().requires_grad_(True) for k, v in norm.items()}
    out = ev.proxy_hook("grain", spec, real, norm, RES, graph.seed)
    assert torch.equal(out.detach(), Evaluator.real_hook("grain", spec, real, norm, RES, graph.seed))  # straight through
    other = graph.copy()
    other.set_param("grain", "distance", "manhattan")  # no proxy fits: direct gradients, as "auto"
    ev = Evaluator(other, target, _config("straight+direct"), proxies, torch.device("cpu"), lambda s: None)
    assert ev.direct_nodes == frozenset({"grain"}) and ev.proxy_nodes == {}


def test_straight_gradients_render_the_real_generator_and_carry_the_proxys_slope():
    from proxymat.optimize.proxies import load_graph_proxies

    graph, target = _target(0.3)
    proxies = load_graph_proxies(graph, log=lambda s: None)
    spec = graph.node_spec("grain")
    outs = {}
    for mode in ("proxy", "straight"):
        ev = Evaluator(graph, target, _config(mode), proxies, torch.device("cpu"), lambda s: None)
        assert set(ev.proxy_nodes) == {"grain"} and ev.direct_nodes == frozenset()
        real, norm = graph.generator_inputs("grain")
        norm = {k: v.clone().requires_grad_(True) for k, v in norm.items()}
        out = ev.proxy_hook("grain", spec, real, norm, RES, graph.seed)
        (grad,) = torch.autograd.grad((out * torch.linspace(0, 1, RES)).sum(), norm["disorder"])
        outs[mode] = (out.detach(), grad)
    exact = Evaluator.real_hook("grain", spec, real, norm, RES, graph.seed)
    assert torch.equal(outs["straight"][0], exact)  # forward: the real generator, not the proxy's image
    assert not torch.allclose(outs["proxy"][0], exact, atol=1e-3)
    assert float(outs["proxy"][1].abs()) > 0 and torch.allclose(outs["straight"][1], outs["proxy"][1])


def test_every_moving_generator_node_of_the_examples_and_library_gets_gradients():
    """Stage II moves every generator node whose parameters are free through a proxy or direct gradients:
    none is left to the random search alone (default gradients, the shipped proxies)."""
    from proxymat.examples import list_examples
    from proxymat.library import load_material, material_names
    from proxymat.optimize.proxies import load_graph_proxies

    target = torch.zeros(1, 3, RES, RES)
    graphs = [resolve_graph(n) for n in list_examples()] + [load_material(n) for n in material_names()]
    assert len(graphs) >= 40
    for graph in graphs:
        ev = Evaluator(graph, target, OptimizeConfig(res=RES), load_graph_proxies(graph, log=lambda s: None),
                       torch.device("cpu"), lambda s: None)
        moving = {k.split(".")[0] for k in ev.keys("generators")}
        assert moving <= set(ev.proxy_nodes) | set(ev.direct_nodes), (graph.name, moving)

"""Graph optimization: each stage lowers the loss, random search, Stage III on real generators, outputs, resume."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from proxymat.graph import Graph
from proxymat.nodes.generators import get_generator
from proxymat.optimize.checkpoint import CheckpointError
from proxymat.optimize.filters import fit_filters
from proxymat.optimize.loss import LossConfig, MaterialLoss
from proxymat.optimize.objective import reseeded
from proxymat.optimize.search import RandomSearch
from proxymat.optimize.stages import STAGE2_MIN_GAIN, Optimization, OptimizeConfig, RealCheck
from proxymat.proxy.model import ProxyConfig, build_proxy
from proxymat.proxy.weights import Proxy, param_table
from proxymat.render import render
from proxymat.report import write_report

RES = 64


def searcher(run: Optimization) -> RandomSearch:
    """The random search of ``run`` (over its evaluator; draws from the run's search RNG)."""
    return RandomSearch(run.evaluator, run)


def tiny_graph() -> Graph:
    g = Graph("tiny", res=RES)
    cells = g.add("cells", name="cells", scale=4, disorder=0.5, style="f2_minus_f1")
    h = g.add("levels", name="lv", input=cells, in_high=0.8)
    g.add("height_to_normal", name="normal", input=h, intensity=1.0)
    col = g.add("gradient_map", name="color", input=h)
    rough = g.add("levels", name="rough", input=h, out_low=0.4, out_high=0.6)
    g.set_output("basecolor", col)
    g.set_output("normal", "normal")
    g.set_output("roughness", rough)
    g.set_output("metallic", 0.0)
    return g


class CountingProxy(torch.nn.Module):
    """A small untrained proxy that counts its calls."""

    def __init__(self):
        super().__init__()
        spec = get_generator("cells")
        table = param_table(spec)
        with torch.random.fork_rng():  # the same weights every time: a run's identity covers them
            torch.manual_seed(0)
            net = build_proxy(ProxyConfig(n_params=len(table), res=16, w_dim=32, map_depth=2, channels=(16, 8, 8)))
        self.proxy = Proxy(net, {"generator": "cells", "params": table})
        self.param_names = list(self.proxy.param_names)
        self.fixed = dict(spec.fixed)
        self.calls = 0

    def forward(self, p):
        self.calls += 1
        return self.proxy(p)


@pytest.fixture(scope="module")
def target() -> torch.Tensor:
    g = tiny_graph()
    g.set_param("cells", "scale", 6)
    g.set_param("color", "color_4", (0.9, 0.5, 0.2))
    g.set_param("rough", "out_low", 0.2)
    with torch.no_grad():
        return render(g.evaluate(RES))


def config(**kw) -> OptimizeConfig:
    base = OptimizeConfig(res=RES, iters1=8, iters2=8, iters3=6, samples=6, search_batch=4, polish=8, lr1=0.05, lr2=0.05, lr3=0.02,
                          sweep_iters=0, gradients="proxy",  # the untrained stand-in proxy draws Stage II's images
                          count_search=0,  # the count search's own tests (test_counts.py) turn it on
                          loss=LossConfig(features="random", scales=(1.0, 0.5)))
    return replace(base, **kw)


@pytest.fixture(scope="module")
def finished(target, tmp_path_factory):
    out = tmp_path_factory.mktemp("opt")
    proxy = CountingProxy()
    run = Optimization(tiny_graph(), target, config(), proxies={"cells": proxy}, out_dir=out, progress=False, log=lambda s: None)
    run.stage1()
    run.save_checkpoint()
    run.stage2()
    run.save_checkpoint()
    calls_after_stage2 = proxy.calls
    after_stage2 = ({k: v.clone() for k, v in run.graph.normalized("generators").items()}, run.evaluator.generator_bounds())
    run.polish()
    run.save_checkpoint()
    run.stage3()
    run.save_checkpoint()
    return run, proxy, calls_after_stage2, out, after_stage2


def test_each_stage_lowers_its_loss(finished):
    run, *_ = finished
    names = [r.name for r in run.records]
    assert names == ["stage1", "stage2", "polish", "stage3"]
    for r in run.records:
        if r.name != "polish":  # the polish curve holds accepted losses only; its own test covers it
            assert min(r.curve) < r.curve[0], r.name
    s1 = run.records[0]
    assert s1.loss_end < s1.loss_start
    assert run.records[2].loss_end <= run.records[2].loss_start + 1e-6
    assert run.records[3].loss_end <= run.records[3].loss_start + 1e-6


def test_stage2_goes_through_the_proxy_and_stage3_does_not(finished):
    run, proxy, calls_after_stage2, *_ = finished
    assert calls_after_stage2 >= config().iters2  # search batches + every Adam step
    assert proxy.calls == calls_after_stage2  # neither the polish nor Stage III called the proxy
    assert torch.equal(run.renders["stage3"], run.evaluator.real_render(run.graph))


def test_random_search_picks_the_lowest_loss(target):
    run = Optimization(tiny_graph(), target, config(), proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(7)
    losses, idx = searcher(run).losses(filters, cands)
    assert losses.shape == (7,)
    expected = []
    for k in range(7):
        one = {key: v[k: k + 1] for key, v in cands.items()}
        maps = run.graph.evaluate(RES, {**filters, **one}, generator_hook=run.evaluator.proxy_hook)
        expected.append(float(run.loss(render(maps))))
    assert idx == min(range(7), key=lambda k: expected[k])
    assert torch.allclose(losses, torch.tensor(expected), rtol=1e-4, atol=1e-6)


def test_rescore_keeps_the_lowest_real_loss_among_the_proxy_favourites_and_candidate_0(target):
    run = Optimization(tiny_graph(), target, config(rescore=3), proxies={"cells": CountingProxy()}, progress=False,
                       log=lambda s: None)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(9)
    proxy_losses, _ = searcher(run).losses(filters, cands)
    real_losses, _ = searcher(run).losses(filters, cands, real=True)
    best, idx = searcher(run).rescore(filters, cands, proxy_losses)
    allowed = {0, *torch.argsort(proxy_losses)[:3].tolist()}
    assert idx in allowed
    assert best == pytest.approx(min(float(real_losses[i]) for i in allowed), rel=1e-5)
    one = {k: v[idx: idx + 1] for k, v in cands.items()}
    graph = run.graph.copy()
    graph.set_normalized(one)
    graph.set_normalized(filters)
    assert run.evaluator.real_loss(graph) == pytest.approx(best, rel=1e-4)


def test_stage2_start_is_never_worse_than_the_current_parameters_with_rescoring(target):
    logs: list[str] = []
    run = Optimization(tiny_graph(), target, config(iters2=1, samples=12), proxies={"cells": CountingProxy()},
                       progress=False, log=logs.append)
    start = run.evaluator.real_loss(run.graph)
    run.stage2()
    assert any("real-generator loss" in line for line in logs)
    chosen = [line for line in logs if "real-generator loss" in line]
    assert all(float(line.split("real-generator loss ")[1].split()[0]) <= start + 1e-4 for line in chosen)
    quiet: list[str] = []
    Optimization(tiny_graph(), target, config(iters2=1, rescore=0), proxies={"cells": CountingProxy()},
                 progress=False, log=quiet.append).stage2()
    assert not any("real-generator loss" in line for line in quiet)


def test_search_candidates_start_with_current_then_local_then_global(target):
    run = Optimization(tiny_graph(), target, config(samples=10, local_fraction=0.3, local_radius=0.05), progress=False,
                       log=lambda s: None)
    current = run.graph.normalized("generators")
    cands = searcher(run).candidates(current)
    bounds = run.evaluator.generator_bounds()
    for key, v in cands.items():
        assert v.shape == (11, 1)
        assert torch.equal(v[0], current[key].reshape(-1)[:1])
        lo, hi = bounds[key]
        assert v.min() >= lo - 1e-6 and v.max() <= hi + 1e-6
        assert (v[1:4] - current[key].reshape(-1)[0]).abs().max() <= 0.05 + 1e-6
    scale = cands["cells.scale"]
    assert (scale[4:] - scale[0]).abs().max() > 0.05  # the global samples leave the neighbourhood
    none_local = Optimization(tiny_graph(), target, config(samples=4, local_fraction=0.0), progress=False,
                              log=lambda s: None)
    none_local = searcher(none_local).candidates(current)
    assert all(v.shape == (5, 1) for v in none_local.values())


def test_sampled_generator_values_respect_the_sampling_box(target):
    run = Optimization(tiny_graph(), target, config(), progress=False, log=lambda s: None)
    cands = searcher(run).sample_generator_values(200)
    spec = get_generator("cells")
    for key, u in cands.items():
        p = spec.param(key.split(".")[1])
        lo, hi = spec.sample_box.get(p.name, (p.low, p.high))
        real = p.low + u * (p.high - p.low)
        assert real.min() >= lo - 1e-4 and real.max() <= hi + 1e-4, key


def test_outputs_and_report_reference_existing_files(finished, target):
    run, _, _, out, _ = finished
    result = run.run()  # everything done: resumes from the checkpoint, runs nothing new
    assert [r.name for r in result.records] == ["stage1", "stage2", "polish", "stage3"]
    paths = write_report(out, result, target, {"test": True})
    for key in ("graph", "render", "target", "comparison", "curves", "gif", "report", "summary"):
        assert paths[key].is_file(), key
    html = paths["report"].read_text()
    refs = re.findall(r"(?:src|href)='([^']+)'", html)
    assert len(refs) >= 8
    for ref in refs:
        assert (out / ref).is_file(), ref
    reloaded = Graph.load(paths["graph"])
    with torch.no_grad():
        img = render(reloaded.evaluate(RES))
    assert torch.allclose(img, result.renders["final"], atol=1e-6)


def test_resume_skips_finished_stages(finished, target):
    _, _, _, out, _ = finished
    proxy = CountingProxy()
    run = Optimization(tiny_graph(), target, config(), proxies={"cells": proxy}, out_dir=out, progress=False, log=lambda s: None)
    assert run.load_checkpoint()
    assert [r.name for r in run.records] == ["stage1", "stage2", "polish", "stage3"]
    other = Optimization(tiny_graph(), target, config(iters1=3), proxies={"cells": proxy}, out_dir=out, progress=False,
                         log=lambda s: None)
    with pytest.raises(CheckpointError, match=r"other settings \(iters1 8 there, 3 now\)"):
        other.load_checkpoint()  # different settings never resume


def test_loss_is_zero_on_target_and_positive_elsewhere(target):
    loss = MaterialLoss(target, LossConfig(features="random", scales=(1.0, 0.5)))
    assert float(loss(target)) == pytest.approx(0.0, abs=1e-7)
    assert float(loss(target.flip(-1) * 0.5)) > 1e-3


def test_proxy_with_other_pinned_values_is_not_used(target):
    g = tiny_graph()
    g.set_param("cells", "style", "f1")  # the proxy was trained on f2_minus_f1
    messages = []
    run = Optimization(g, target, config(), proxies={"cells": CountingProxy()}, progress=False, log=messages.append)
    assert run.proxy_nodes == {}
    assert any("uses the real generator" in m for m in messages)


def test_each_node_gets_the_variant_whose_pins_match(target):
    g = tiny_graph()
    f1 = CountingProxy()
    f1.fixed = {**f1.fixed, "style": 0.0}  # a variant trained with --pin style=f1
    shipped = CountingProxy()
    proxies = {"cells": shipped, "cells@f1": f1}
    run = Optimization(g, target, config(), proxies=proxies, progress=False, log=lambda s: None)
    assert run.proxy_nodes == {"cells": shipped}  # the node draws f2_minus_f1
    g.set_param("cells", "style", "f1")
    run = Optimization(g, target, config(), proxies=proxies, progress=False, log=lambda s: None)
    assert run.proxy_nodes == {"cells": f1}
    g.set_param("cells", "style", "edges")
    messages = []
    run = Optimization(g, target, config(), proxies=proxies, progress=False, log=messages.append)
    assert run.proxy_nodes == {}
    assert any("proxies for 'cells' were trained with style=2 (cells); style=0 (cells@f1); node 'cells' differs" in m
               for m in messages)


def test_shipped_variants_are_loaded_beside_the_generator_proxy(tmp_path, monkeypatch):
    from proxymat.examples import resolve_graph
    from proxymat.optimize import proxies as proxies_mod
    from proxymat.optimize.proxies import load_graph_proxies, proxy_generator
    from proxymat.proxy import weights

    assert proxy_generator("cells@f1") == "cells" and proxy_generator("cells") == "cells"
    variant = tmp_path / "cells@f1.safetensors"
    variant.write_bytes(weights.resolve_weights("cells").read_bytes())
    real_resolve = weights.resolve_weights
    monkeypatch.setattr(weights, "resolve_weights", lambda name: variant if str(name) == "cells@f1" else real_resolve(name))
    monkeypatch.setattr(weights, "shipped_proxy_names", lambda: ["cells", "cells@f1", "clouds"])
    assert proxies_mod.shipped_variants("cells") == ["cells", "cells@f1"]
    graph = resolve_graph("leather")
    assert list(load_graph_proxies(graph, log=lambda s: None)) == ["cells", "cells@f1"]
    assert list(load_graph_proxies(graph, {"cells": "cells"}, log=lambda s: None)) == ["cells"]  # --proxy: that file only


def test_stage2_keeps_proxy_parameters_in_the_sampling_box(finished):
    # Only Stage II goes through the proxies; the polish uses the real generators and may leave the box.
    *_, (values, bounds) = finished
    for key, u in values.items():
        lo, hi = bounds[key]
        assert lo - 1e-6 <= float(u[0]) <= hi + 1e-6, key


def test_final_result_is_the_lowest_loss_of_all_stages(target):
    run = Optimization(tiny_graph(), target, config(), proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    result = run.run()
    stage_losses = [r.loss_end for r in result.records]
    assert result.loss_final <= min(stage_losses) + 1e-6
    assert result.loss_final <= run.best["loss"] + 1e-6


def test_a_run_renders_each_distinct_graph_once(target, monkeypatch):
    """Stage starts reuse the previous stage's end render; the final render reuses the last stage's."""
    run = Optimization(tiny_graph(), target, config(), proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    seen: list[str] = []
    real_render = run.evaluator.real_render

    def counting(graph):
        seen.append(json.dumps(graph.to_dict(), sort_keys=True))
        return real_render(graph)

    monkeypatch.setattr(run.evaluator, "real_render", counting)
    result = run.run()
    assert len(seen) == len(set(seen))  # never the same graph twice
    # The initial graph, each stage's end and Stage II's real-generator checks (before iteration 0 and after the last).
    assert run.config.stage2_check > run.config.iters2, "the test assumes one check before Stage II's Adam and one after"
    assert len(seen) <= 1 + len(result.records) + 2
    assert result.loss_final == pytest.approx(float(run.loss(real_render(result.graph))), abs=1e-7)


def _generator_only_target() -> tuple[Graph, torch.Tensor]:
    truth = tiny_graph()
    truth.set_param("cells", "scale", 7)
    truth.set_param("cells", "disorder", 0.8)
    with torch.no_grad():
        return truth, render(truth.evaluate(RES))


def test_polish_lowers_the_loss_by_moving_generator_parameters_only():
    truth, target = _generator_only_target()
    run = Optimization(tiny_graph(), target, config(polish=48), progress=False, log=lambda s: None)
    filters_before = run.graph.normalized("filters")
    run.polish()
    rec = run.records[-1]
    assert rec.name == "polish" and rec.loss_end < rec.loss_start - 1e-3
    assert rec.curve == sorted(rec.curve, reverse=True)  # only improvements are kept
    assert len(rec.curve) == 1 + 48 // 4
    assert rec.loss_end == pytest.approx(run.evaluator.real_loss(run.graph), abs=1e-6)
    after = run.graph.normalized("filters")
    assert all(torch.equal(filters_before[k], after[k]) for k in after)
    assert isinstance(run.graph.value("cells.scale"), int)  # discrete parameters stay on their grid


def test_polish_with_several_layouts_compares_their_mean_loss_and_reports_the_own_layout():
    truth, target = _generator_only_target()
    run = Optimization(tiny_graph(), target, config(polish=24, polish_layouts=2), progress=False, log=lambda s: None)
    ev = run.evaluator
    other = run.graph.copy()
    other.seed += 1
    mean_start = (ev.real_loss(run.graph) + ev.real_loss(other)) / 2
    run.polish()
    rec = run.records[-1]
    assert rec.curve[0] == pytest.approx(mean_start, rel=1e-5)
    assert rec.curve == sorted(rec.curve, reverse=True) and rec.curve[-1] < rec.curve[0] - 1e-4
    assert rec.loss_end == pytest.approx(ev.real_loss(run.graph), abs=1e-6)  # scored at the graph's own layout


def test_polish_radius_grows_after_gains_shrinks_after_misses_within_bounds():
    from proxymat.optimize.stages import POLISH_RADIUS_RANGE, next_radius

    assert next_radius(0.1, True, 1.5) == pytest.approx(0.15)
    assert next_radius(0.1, False, 1.5) == pytest.approx(0.07)
    assert next_radius(0.1, True, 1.0) == pytest.approx(0.1)  # grow=1: a polish that only shrinks
    assert next_radius(0.45, True, 1.5) == POLISH_RADIUS_RANGE[1]
    assert next_radius(0.012, False, 1.5) == POLISH_RADIUS_RANGE[0]
    r = 0.1
    for _ in range(5):
        r = next_radius(r, True, 1.5)
    assert r == pytest.approx(0.5)  # five gains in a row reach the cap: a far move is possible


def test_polish_moves_filters_only_when_asked():
    truth = tiny_graph()
    truth.set_param("rough", "out_low", 0.1)
    truth.set_param("lv", "in_high", 0.6)
    with torch.no_grad():
        target = render(truth.evaluate(RES))
    held = Optimization(tiny_graph(), target, config(polish=32), progress=False, log=lambda s: None)
    moved = Optimization(tiny_graph(), target, config(polish=32, polish_filters=True), progress=False, log=lambda s: None)
    held.polish()
    moved.polish()
    start = tiny_graph().normalized("filters")
    assert all(torch.equal(start[k], v) for k, v in held.graph.normalized("filters").items())
    assert any(not torch.equal(start[k], v) for k, v in moved.graph.normalized("filters").items())
    assert moved.records[-1].loss_end < held.records[-1].loss_end


def test_polish_starts_from_the_lowest_loss_graph_so_far():
    truth, target = _generator_only_target()
    messages: list[str] = []
    run = Optimization(tiny_graph(), target, config(polish=8), progress=False, log=messages.append)
    run.best = {"stage": "stage1", "loss": 0.0, "graph": truth.to_dict()}
    run.polish()
    assert run.records[-1].loss_start == pytest.approx(0.0, abs=1e-7)
    assert run.graph.value("cells.scale") == 7 and run.graph.value("cells.disorder") == pytest.approx(0.8)
    assert any("starting from stage1" in m for m in messages)


@pytest.mark.parametrize("kw, names", [({}, ["stage1", "stage2", "polish", "stage3"]),
                                       ({"sweep_iters": 2, "sweep_max": 2}, ["stage1", "sweep", "stage2", "polish", "stage3"]),
                                       ({"sweep_iters": 2, "stage2": False}, ["stage1", "stage3"]),
                                       ({"polish": 0}, ["stage1", "stage2", "stage3"]),
                                       ({"stage2": False}, ["stage1", "stage3"])])
def test_polish_runs_after_stage2_and_only_with_it(target, kw, names):
    run = Optimization(tiny_graph(), target, config(**kw), progress=False, log=lambda s: None)
    assert [r.name for r in run.run().records] == names


def test_no_proxy_leaves_a_shipped_proxy_out():
    from proxymat.examples import resolve_graph
    from proxymat.optimize.proxies import load_graph_proxies

    graph = resolve_graph("leather")
    messages: list[str] = []
    assert set(load_graph_proxies(graph, log=messages.append)) == {"cells", "cells@f1", "cells@cell_random", "cells@edges"}  # and its variants
    assert load_graph_proxies(graph, log=messages.append, skip=["cells"]) == {}
    assert "proxy for generator 'cells' turned off (--no-proxy)" in messages


def test_a_shipped_proxy_below_its_flat_floor_is_left_out_unless_asked(tmp_path, monkeypatch):
    from proxymat.examples import resolve_graph
    from proxymat.optimize.proxies import load_graph_proxies
    from proxymat.proxy import weights
    from proxymat.proxy.weights import record_metrics

    shipped = weights.resolve_weights("cells")
    weak = tmp_path / "cells.safetensors"
    weak.write_bytes(shipped.read_bytes())
    record_metrics(weak, {"l1": 0.2, "flat_l1": 0.17, "ssim": 0.02, "flat_ssim": 0.03})
    real_resolve = weights.resolve_weights
    monkeypatch.setattr(weights, "resolve_weights", lambda name: weak if str(name) == "cells" else real_resolve(name))
    monkeypatch.setattr(weights, "shipped_proxy_names", lambda: ["cells"])
    graph = resolve_graph("leather")
    messages: list[str] = []
    assert load_graph_proxies(graph, log=messages.append) == {}
    assert any("'cells' not used" in m and "--proxy cells uses it anyway" in m for m in messages)
    assert set(load_graph_proxies(graph, {"cells": "cells"}, log=messages.append)) == {"cells"}


def test_linear_targets_are_gamma_encoded_like_renders():
    from proxymat.optimize.loss import encode_like_render

    lin = torch.tensor([0.0, 0.25, 1.0]).view(1, 3, 1, 1)
    assert torch.equal(encode_like_render(lin, "srgb"), lin)
    assert torch.allclose(encode_like_render(lin, "linear").flatten(), torch.tensor([0.0, 0.25 ** (1 / 2.2), 1.0]))
    with pytest.raises(ValueError, match="target encoding"):
        encode_like_render(lin, "rgb")


def test_real_check_stops_after_patience_checks_without_a_gain():
    losses = iter([0.5, 0.4, 0.4 * (1 - STAGE2_MIN_GAIN / 2), 0.45, 0.41])
    check = RealCheck(lambda v: next(losses), patience=3)
    values = {"a": torch.tensor([0.1])}
    stops = [check(it, values) for it in (0, 10, 20, 30, 40)]
    # 0.4 -> 0.3998 is below the minimum relative gain, so it counts as no gain (but is still the best seen).
    assert stops == [False, False, False, False, True]
    assert check.best_iter == 20 and check.best_loss == pytest.approx(0.4 * (1 - STAGE2_MIN_GAIN / 2))
    assert check.losses[0] == (0, 0.5)


def test_real_check_keeps_a_copy_of_the_best_values():
    losses = iter([0.3, 0.2, 0.25])
    check = RealCheck(lambda v: next(losses), patience=5)
    values = {"a": torch.tensor([0.1])}
    for it in range(3):
        check(it, values)
        values["a"] += 0.1  # Adam updates its tensors in place
    assert float(check.best_values["a"]) == pytest.approx(0.2)


def test_stage2_stops_when_the_real_loss_stops_falling(target):
    run = Optimization(tiny_graph(), target, config(iters2=40, stage2_check=5, stage2_patience=2),
                       proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    run.stage1()
    run.evaluator.values_loss = lambda values: 0.25  # the real generators never improve
    run.stage2()
    record = run.records[-1]
    assert len(record.curve) == 10  # checks at 0 (the best so far), 5 and 10 (no gain twice): stop
    assert "stopped after 10 of 40 iterations" in record.note


def test_stage2_keeps_the_values_with_the_lowest_real_loss(target):
    run = Optimization(tiny_graph(), target, config(iters2=12, stage2_check=3, stage2_patience=10),
                       proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    run.stage1()
    seen: list[float] = []
    real_values_loss = run.evaluator.values_loss

    def recording(values):
        seen.append(real_values_loss(values))
        return seen[-1]

    run.evaluator.values_loss = recording
    run.stage2()
    record = run.records[-1]
    assert len(seen) == 5 and len(record.curve) == 12  # checks at 0, 3, 6, 9 and after 12; no early stop
    assert record.loss_end <= min(seen) + 1e-7
    assert record.loss_end == pytest.approx(run.evaluator.real_loss(run.graph), abs=1e-7)


def test_stage2_without_checks_runs_every_iteration(target):
    run = Optimization(tiny_graph(), target, config(iters2=10, stage2_check=0),
                       proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    run.stage1()
    run.evaluator.values_loss = lambda values: pytest.fail("no real-generator checks with stage2_check=0")
    run.stage2()
    assert len(run.records[-1].curve) == 10


# ----------------------------------------------------------- category sweep
def test_category_trials_list_every_other_choice_of_enum_generator_parameters():
    from proxymat.optimize.stages import category_trials

    trials = category_trials(tiny_graph())
    assert sorted(trials) == sorted([("cells.distance", "manhattan"), ("cells.distance", "chebyshev"),
                                     ("cells.style", "f1"), ("cells.style", "f2"), ("cells.style", "edges"),
                                     ("cells.style", "cell_random")])


def test_count_trials_step_each_integer_generator_parameter_by_powers_of_two_inside_its_box(target):
    run = Optimization(tiny_graph(), target, config(sweep_counts=3), progress=False, log=lambda s: None)
    ev = run.evaluator
    lo, hi = ev.generator_bounds()["cells.scale"]  # cells' sampling box: scale 4-16; the graph has 4
    spec = run.graph.param_specs("generators")["cells.scale"]
    assert spec.normalize(4)[0] == pytest.approx(lo) and spec.normalize(16)[0] == pytest.approx(hi)
    assert ev.count_trials() == [("cells.scale", 5), ("cells.scale", 6), ("cells.scale", 8)]  # 3, 2, 0 leave the box
    ev.graph.set_param("cells", "scale", 10)
    assert ev.count_trials() == [("cells.scale", v) for v in (6, 8, 9, 11, 12, 14)]
    assert ev.sweep_trials() == ev.category_trials() + ev.count_trials()
    off = Optimization(tiny_graph(), target, config(), progress=False, log=lambda s: None).evaluator
    assert off.count_trials() == [] and off.sweep_trials() == off.category_trials()


def test_sweep_with_counts_moves_a_count_that_is_several_units_off():
    truth = tiny_graph()
    truth.set_param("cells", "scale", 8)
    with torch.no_grad():
        target = render(truth.evaluate(RES))
    logs: list[str] = []
    run = Optimization(tiny_graph(), target, config(sweep_iters=2, sweep_counts=3, sweep_noise=0, sweep_rounds=1), progress=False,
                       log=logs.append)
    assert run.graph.value("cells.scale") == 4
    run.sweep()
    assert run.graph.value("cells.scale") == 8, logs[-1]
    assert "changed cells.scale=8" in logs[-1]


def _style_target(style: str) -> torch.Tensor:
    truth = tiny_graph()
    truth.set_param("cells", "style", style)
    truth.set_param("rough", "out_low", 0.3)
    with torch.no_grad():
        return render(truth.evaluate(RES))


def test_sweep_finds_the_target_category_and_drops_a_proxy_that_no_longer_fits(tmp_path):
    target = _style_target("f1")
    messages: list[str] = []
    run = Optimization(tiny_graph(), target, config(sweep_iters=4), proxies={"cells": CountingProxy()},
                       out_dir=tmp_path, progress=False, log=messages.append)
    assert set(run.proxy_nodes) == {"cells"}
    run.sweep()
    record = run.records[-1]
    assert run.graph.value("cells.style") == "f1"
    assert record.name == "sweep" and record.loss_end < 0.5 * record.loss_start
    assert record.loss_end == pytest.approx(run.evaluator.real_loss(run.graph), abs=1e-6)
    assert torch.equal(run.renders["sweep"], run.evaluator.real_render(run.graph))  # the report shows the new category
    assert "changed cells.style=f1" in record.note and record.note.startswith("12 trials")  # a second round too
    assert run.proxy_nodes == {}  # the proxy pins style=f2_minus_f1
    assert any("uses the real generator" in m for m in messages)
    run.save_checkpoint()
    resumed = Optimization(tiny_graph(), target, config(sweep_iters=4), proxies={"cells": CountingProxy()},
                           out_dir=tmp_path, progress=False, log=lambda s: None)
    assert resumed.load_checkpoint() and resumed.proxy_nodes == {}


def test_sweep_keeps_the_right_category_and_never_raises_the_loss():
    target = _style_target("f2_minus_f1")
    run = Optimization(tiny_graph(), target, config(sweep_iters=4, sweep_max=3, sweep_rounds=3), progress=False,
                       log=lambda s: None)
    run.sweep()
    record = run.records[-1]
    assert run.graph.value("cells.style") == "f2_minus_f1" and run.graph.value("cells.distance") == "euclidean"
    assert record.note == "3 trials; no category changed"  # one round of sweep_max trials, no gain: stop
    assert "sweep" not in run.renders
    assert record.loss_end <= record.loss_start + 1e-7
    assert record.loss_end == pytest.approx(run.evaluator.real_loss(run.graph), abs=1e-6)


def test_sweep_costs_nothing_without_categorical_generator_parameters(target, monkeypatch):
    from proxymat.examples import resolve_graph

    graph = resolve_graph("plaster")  # clouds only: integer and float parameters
    run = Optimization(graph, target, config(sweep_iters=4), progress=False, log=lambda s: None)
    monkeypatch.setattr("proxymat.optimize.filters.adam", lambda *a, **k: pytest.fail("no filter re-fit without a category to try"))
    run.sweep()
    record = run.records[-1]
    assert record.note == "no categorical generator parameters" and record.loss_end == record.loss_start
    assert run.graph.to_dict() == graph.to_dict()


def test_sweep_gives_up_a_proxy_only_for_a_clear_gain():
    target = _style_target("f1")  # the right category is worth far more than 2 %, not 99 %
    kept = Optimization(tiny_graph(), target, config(sweep_iters=4, sweep_proxy_margin=0.99),
                        proxies={"cells": CountingProxy()}, progress=False, log=lambda s: None)
    kept.sweep()
    assert kept.graph.value("cells.style") == "f2_minus_f1" and set(kept.proxy_nodes) == {"cells"}
    assert kept.records[-1].note.endswith("no category changed")
    free = Optimization(tiny_graph(), target, config(sweep_iters=4, sweep_proxy_margin=0.99), progress=False,
                        log=lambda s: None)  # no proxy to lose: the margin does not apply
    free.sweep()
    assert free.graph.value("cells.style") == "f1"


def test_candidate_refits_match_fitting_each_candidate_alone(target):
    run = Optimization(tiny_graph(), target, config(search_batch=3), progress=False, log=lambda s: None)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(5)  # two batches: 3 + 2
    losses, fits = searcher(run).refit_candidates(filters, cands, iters=4)
    assert losses.shape == (5,) and all(fits[k].shape == (5, filters[k].numel()) for k in filters)
    for j in range(5):
        graph = run.graph.copy()
        graph.set_normalized({k: v[j] for k, v in cands.items()})
        unfit = run.evaluator.real_loss(graph)
        best, curve = fit_filters(run.evaluator, run, graph, 4, run.config.lr1, "alone", record_frames=False)
        assert curve[0] == pytest.approx(unfit, rel=1e-4)  # the re-fit starts from the filters as given
        assert float(losses[j]) == pytest.approx(min(curve), rel=1e-4)
        assert float(losses[j]) <= unfit + 1e-6
        for k in filters:
            assert torch.allclose(fits[k][j], best[k].reshape(-1), atol=1e-5), k


def test_refit_search_keeps_the_lowest_refit_among_current_chosen_and_the_best_samples(target, monkeypatch):
    logs: list[str] = []
    run = Optimization(tiny_graph(), target, config(search_refit=2), progress=False, log=logs.append)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(6)
    search_losses = torch.tensor([0.5, 0.1, 0.4, 0.2, 0.3, 0.6])
    seen = {}

    def fake_refit(fvals, subset, iters):
        seen["subset"], seen["iters"] = subset, iters
        n = next(iter(subset.values())).shape[0]
        refit = torch.tensor([0.45, 0.05, 0.09, 0.08][:n])
        return refit, {k: torch.full((n, v.numel()), float(i)) for i, (k, v) in enumerate(fvals.items())}

    search = searcher(run)
    monkeypatch.setattr(search, "refit_candidates", fake_refit)
    loss, idx, fit = search.refit_search(filters, cands, search_losses, chosen=5)
    # Candidate 0, the chosen one (5), then the two lowest search losses (1 and 3).
    assert torch.equal(seen["subset"]["cells.scale"], cands["cells.scale"][[0, 5, 1, 3]])
    assert seen["iters"] == run.config.search_refit_iters
    assert (loss, idx) == (pytest.approx(0.05), 5)
    assert all(v.shape == (filters[k].numel(),) for k, v in fit.items())
    assert "rank 6 of 6 by its search loss" in logs[-1]


def test_refit_search_with_several_layouts_picks_the_lowest_mean_and_reports_the_own_layout(target, monkeypatch):
    logs: list[str] = []
    run = Optimization(tiny_graph(), target, config(search_refit=2, search_layouts=3), progress=False, log=logs.append)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(6)
    search_losses = torch.tensor([0.5, 0.1, 0.4, 0.2, 0.3, 0.6])

    def fake_refit(fvals, subset, iters):
        n = next(iter(subset.values())).shape[0]
        return torch.tensor([0.45, 0.05, 0.09, 0.08][:n]), {k: torch.zeros(n, v.numel()) for k, v in fvals.items()}

    search = searcher(run)
    monkeypatch.setattr(search, "refit_candidates", fake_refit)
    # Candidate 5 wins at the own layout by chance; at the 2 other layouts candidate 3 is far lower.
    monkeypatch.setattr(search, "other_layouts_losses", lambda fits, subset, layouts: torch.tensor([0.9, 0.5, 0.3, 0.1]))
    loss, idx, _ = search.refit_search(filters, cands, search_losses, chosen=5)
    assert (loss, idx) == (pytest.approx(0.08), 3)  # mean (0.08 + 0.1) / 3 = 0.06 < (0.05 + 0.5) / 3
    assert "mean over 3 layouts 0.0600" in logs[-1]


def test_other_layouts_losses_sum_each_candidates_real_loss_at_the_next_layout_seeds(target):
    run = Optimization(tiny_graph(), target, config(search_batch=2), progress=False, log=lambda s: None)
    filters = run.graph.normalized("filters", optimizable_only=True)
    cands = searcher(run).sample_generator_values(3)  # two batches: 2 + 1
    fits = {k: v.reshape(1, -1).repeat(3, 1) + 0.01 * torch.arange(3.0).reshape(3, 1) for k, v in filters.items()}
    got = searcher(run).other_layouts_losses(fits, cands, 3)
    for j in range(3):
        graph = run.graph.copy()
        graph.set_normalized({**{k: v[j] for k, v in fits.items()}, **{k: v[j] for k, v in cands.items()}})
        want = sum(run.evaluator.real_loss(reseeded(graph, graph.seed + d)) for d in (1, 2))
        own = run.evaluator.real_loss(graph)
        assert float(got[j]) == pytest.approx(want, rel=1e-4)
        assert abs(want / 2 - own) > 1e-6  # the other layouts differ from the own one


def test_stage2_with_refits_starts_no_worse_than_the_current_parameters(target):
    logs: list[str] = []
    run = Optimization(tiny_graph(), target, config(iters2=1, samples=6, search_refit=3, search_refit_iters=3),
                       proxies={"cells": CountingProxy()}, progress=False, log=logs.append)
    run.stage1()
    start = run.evaluator.real_loss(run.graph)
    run.stage2()
    refits = [line for line in logs if "filters re-fit to" in line]
    assert len(refits) == 1 and "5 candidates" in refits[0]
    assert float(refits[0].split("loss ")[1].split()[0]) <= start + 1e-5
    assert run.records[-1].loss_end <= start + 1e-5


def test_proxy_outputs_are_reused_without_gradients_only(target):
    proxy = CountingProxy()
    ev = Optimization(tiny_graph(), target, config(), proxies={"cells": proxy}, progress=False,
                      log=lambda s: None).evaluator
    program = ev.graph.compile()
    spec = program.specs["cells"]
    real, norm = program.generator_inputs("cells", batch=3)
    norm = {k: v + 0.01 * torch.arange(3) for k, v in norm.items()}  # three different candidates
    seed = program.generator_seed("cells")
    with torch.no_grad():
        first = ev.proxy_hook("cells", spec, real, norm, RES, seed)
        again = ev.proxy_hook("cells", spec, real, {k: v.clone() for k, v in norm.items()}, RES, seed)
        assert proxy.calls == 1 and torch.equal(again, first)
        other = ev.proxy_hook("cells", spec, real, {k: v + 0.1 for k, v in norm.items()}, RES, seed)
        assert proxy.calls == 2 and not torch.equal(other, first)
    moving = {k: v.clone().requires_grad_(True) for k, v in norm.items()}
    out = ev.proxy_hook("cells", spec, real, moving, RES, seed)
    assert proxy.calls == 3 and out.requires_grad  # with gradients the proxy always runs
    assert torch.equal(out.detach(), first)

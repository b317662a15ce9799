"""Gradient-free baselines: objective vectors and budgets, the four methods, the driver."""

import json
import math

import numpy as np
import pytest
import torch

from proxymat.graph import Graph
from proxymat.optimize import gradient_free as gf
from proxymat.optimize.gradient_free import BudgetExhausted, Objective, run_baseline
from proxymat.optimize.loss import LossConfig, MaterialLoss
from proxymat.render import render

RES = 32
EVALS = 40


def tiny_graph() -> Graph:
    g = Graph("tiny", res=RES)
    cells = g.add("cells", name="cells", scale=4, disorder=0.5, style="f1")
    lv = g.add("levels", name="lv", input=cells, in_high=0.8)
    g.add("height_to_normal", name="normal", input=lv, intensity=1.0)
    g.set_output("basecolor", lv)
    g.set_output("normal", "normal")
    g.set_output("roughness", 0.5)
    g.set_output("metallic", 0.0)
    return g


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: threading only adds overhead (a lot of it on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def loss(one_thread) -> MaterialLoss:
    g = tiny_graph()
    g.set_param("lv", "out_low", 0.3)
    g.set_param("lv", "out_high", 0.6)
    g.set_param("normal", "intensity", 4.0)
    with torch.no_grad():
        target = render(g.evaluate(RES))
    return MaterialLoss(target, LossConfig(features="random", scales=(1.0,)))


def objective(loss, **kw) -> Objective:
    return Objective(tiny_graph(), loss.target, loss, res=RES, **kw)


def baseline(name, loss, **kw):
    kw = {"time_budget_s": None, "max_evals": EVALS, "res": RES, "seed": 0, "batch_size": 8, **kw}
    return run_baseline(name, tiny_graph(), loss.target, loss=loss, **kw)


@pytest.fixture(scope="module")
def results(loss):
    return {name: baseline(name, loss) for name in gf.BASELINES}


# ----------------------------------------------------------------- vectors
def test_layout_covers_filters_and_all_generator_params(loss):
    obj = objective(loss)
    g = tiny_graph()
    assert obj.layout.keys == tuple(g.normalized("all", optimizable_only=True))
    assert obj.layout.keys[:6] == ("cells.scale", "cells.disorder", "cells.distance", "cells.style",
                                   "cells.edge_width", "cells.luminance_random")
    assert obj.dim == 6 + 5 + 1
    # int 1..64 -> 1/63, enum of 3 -> 1/2, enum of 5 -> 1/4, floats 0
    assert np.allclose(obj.layout.steps[:6], [1 / 63, 0, 1 / 2, 1 / 4, 0, 0])
    assert not obj.layout.discrete[6:].any()
    assert obj.x0[0] == pytest.approx(3 / 63) and obj.x0[1] == pytest.approx(0.5)


def test_vector_values_round_trip_exactly(loss):
    obj = objective(loss)
    values = tiny_graph().normalized("all", optimizable_only=True)
    back = obj.to_values(obj.from_values(values))
    assert list(back) == list(values)
    assert all(torch.equal(back[k], values[k]) for k in values)
    x = np.random.default_rng(0).random(obj.dim).astype(np.float32).astype(np.float64)
    assert np.array_equal(obj.from_values(obj.to_values(x)), x)
    batch = obj.to_values(np.stack([x, x]))
    assert batch["lv.in_high"].shape == (2, 1)
    with pytest.raises(ValueError, match="12 values"):
        obj.to_values(np.zeros(3))


def test_snap_rounds_only_discrete_coordinates():
    steps = np.array([0.25, 0.0, 0.5])
    x = np.array([[0.3, 0.37, 0.74], [-0.2, 1.3, 0.2]])
    assert np.allclose(gf.snap(x, steps), [[0.25, 0.37, 0.5], [0.0, 1.0, 0.0]])


# ------------------------------------------------------------ evaluation
def test_batched_losses_match_single_evaluations_and_the_graph(loss):
    obj = objective(loss)
    X = np.random.default_rng(1).random((3, obj.dim))
    batch = obj.f_batch(X)
    singles = [obj.f(x) for x in X]
    assert np.allclose(batch, singles, rtol=1e-4, atol=1e-6)
    g = tiny_graph()
    obj.apply(g, X[2])
    assert obj.real_loss(g) == pytest.approx(singles[2], rel=1e-4)
    assert obj.evaluations == 6
    assert obj.best_loss == pytest.approx(min(singles), rel=1e-4)
    assert [h[1] for h in obj.history] == [3, 4, 5, 6]


def test_loss_at_best_point_is_not_reevaluated(loss):
    obj = objective(loss)
    first = obj.f(obj.x0)
    assert obj.loss_at(obj.x0) == first and obj.evaluations == 1


def test_eval_budget_truncates_a_batch_then_refuses(loss):
    obj = objective(loss, max_evals=5, batch_size=2)
    with pytest.raises(BudgetExhausted):
        obj.f_batch(np.full((8, obj.dim), 0.5))
    assert obj.evaluations == 5
    assert [h[1] for h in obj.history] == [2, 4, 5]
    with pytest.raises(BudgetExhausted):
        obj.f(obj.x0)
    assert obj.evaluations == 5 and obj.progress() == 1.0


def test_apply_keeps_untouched_parameters_exact(loss):
    obj = objective(loss)
    g = tiny_graph()
    k = obj.layout.keys.index("lv.out_high")
    x = obj.x0.copy()
    x[obj.layout.slices[k]] = 0.25
    obj.apply(g, x)
    assert g.nodes["lv"].params["out_high"] == pytest.approx(0.25)
    assert g.nodes["lv"].params["in_high"] == 0.8  # exactly, not 0.800000011920929
    assert g.nodes["cells"].params["scale"] == 4


# --------------------------------------------------------------- methods
@pytest.mark.parametrize("name", gf.BASELINES)
def test_methods_lower_the_loss(results, name):
    r = results[name]
    assert r.method == name
    assert r.loss < r.initial_loss
    assert r.history[0][2] == pytest.approx(r.initial_loss, rel=1e-4)  # the start is evaluated first
    assert r.loss == pytest.approx(r.history[-1][2], rel=1e-3)


@pytest.mark.parametrize("name", gf.BASELINES)
def test_counters_and_history_are_monotone(results, name):
    r = results[name]
    times, evals, best = (np.array(c) for c in zip(*r.history))
    assert np.all(np.diff(times) >= 0) and np.all(np.diff(evals) > 0) and np.all(np.diff(best) <= 0)
    assert r.evaluations == evals[-1] <= EVALS
    assert r.evaluations >= EVALS - 1  # the budget, not the method, ended the run


@pytest.mark.parametrize("name", gf.BASELINES)
def test_result_graph_is_valid_with_discrete_values(results, name):
    g = results[name].graph
    g.validate()
    assert Graph.loads(g.dumps()).to_dict() == json.loads(g.dumps())
    cells = g.nodes["cells"].params
    assert isinstance(cells["scale"], int) and 1 <= cells["scale"] <= 64
    spec = {p.name: p for p in g._spec(g.nodes["cells"]).params}
    assert cells["distance"] in spec["distance"].choices and cells["style"] in spec["style"].choices


def test_same_seed_same_result_for_sa_and_random_search(results, loss):
    for name in ("simulated_annealing", "random_search"):
        again = baseline(name, loss)
        assert again.graph.to_dict() == results[name].graph.to_dict()
        assert [h[1:] for h in again.history] == [h[1:] for h in results[name].history]
    other = baseline("random_search", loss, seed=1, max_evals=9)
    assert other.graph.to_dict() != results["random_search"].graph.to_dict()


def test_time_budget_is_respected(loss):
    budget = 1.5
    r = baseline("cma_es", loss, time_budget_s=budget, max_evals=None, batch_size=4)
    times = [h[0] for h in r.history]
    chunk = max(np.diff([0.0] + times))
    assert budget <= times[-1] + chunk  # it used the budget ...
    assert times[-1] <= budget + max(chunk, 1.0)  # ... and overran it by one chunk at most
    assert r.loss <= r.initial_loss


def test_cma_writes_no_files_and_restores_numpy_rng(loss, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    state = np.random.get_state()
    obj = objective(loss, max_evals=8)
    obj.f(obj.x0)
    best = gf.cma_es(obj, obj.x0, popsize=4, seed=3)
    assert list(tmp_path.iterdir()) == []
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert obj.evaluations == 8 and np.array_equal(best, obj.best_x)


# ----------------------------------------------------------- components
def test_perturb_moves_discrete_coordinates_by_whole_steps():
    steps = np.array([0.1, 0.0, 0.5, 0.0])
    rng = np.random.default_rng(0)
    x = np.array([0.5, 0.5, 1.0, 0.99])
    for _ in range(200):
        y = gf.perturb(x, steps, rng, prob=1.0, scale=0.05)
        assert np.all((y >= 0) & (y <= 1))
        assert abs(y[0] - x[0]) >= 0.1 - 1e-12 and abs(y[0] - x[0]) == pytest.approx(0.1)
        assert y[2] == 0.5  # reflected at the upper bound
        assert 0 < abs(y[1] - 0.5) <= 0.05
    y = gf.perturb(x, steps, rng, prob=0.0, scale=0.05)
    assert np.count_nonzero(y != x) == 1  # at least one coordinate always moves


def test_gp_interpolates_and_expected_improvement_formula():
    Z = np.array([[0.0], [0.5], [1.0]])
    y = np.array([1.0, 0.0, 2.0])
    mu, sd = gf.gp_posterior(Z, y, Z)
    assert np.allclose(mu, y, atol=1e-3) and np.all(sd < 1e-2)
    ei = gf.expected_improvement(np.array([1.0, 0.5, 3.0]), np.array([1.0, 1e-9, 1e-9]), best=1.0)
    assert ei == pytest.approx([1 / math.sqrt(2 * math.pi), 0.5, 0.0], abs=1e-9)


def test_driver_rejects_unknown_methods_and_missing_budgets(loss):
    with pytest.raises(ValueError, match="unknown baseline 'adam'"):
        baseline("adam", loss)
    with pytest.raises(ValueError, match="budget"):
        baseline("cma", loss, max_evals=None)


def test_observer_sees_every_recorded_chunk(loss):
    obj = objective(loss, max_evals=5, batch_size=2)
    seen = []
    obj.observer = lambda o: seen.append((o.evaluations, o.best_loss))
    with pytest.raises(BudgetExhausted):
        obj.f_batch(np.full((8, obj.dim), 0.5))
    assert seen == [(e, v) for _, e, v in obj.history] and [e for e, _ in seen] == [2, 4, 5]


def test_budget_bar_shows_the_budget_and_the_best_loss_then_detaches(loss, capsys):
    obj = objective(loss, max_evals=6, batch_size=2)
    with gf.budget_bar(obj, "my method", mininterval=0.0):
        assert obj.observer is not None
        obj.f_batch(np.full((6, obj.dim), 0.5))
    err = capsys.readouterr().err
    assert "my method" in err and f"best {obj.best_loss:.4f}, 6 renders" in err and "/6 renders" in err
    assert obj.observer is None
    with pytest.raises(RuntimeError), gf.budget_bar(obj, "failing"):  # detached after an error too
        raise RuntimeError("boom")
    assert obj.observer is None
    with gf.budget_bar(obj, "quiet", enabled=False):
        assert obj.observer is None
    assert capsys.readouterr().err.count("quiet") == 0


def test_run_baseline_progress_bar_counts_seconds(loss, capsys):
    baseline("random", loss, time_budget_s=0.5, max_evals=None, progress=True)
    err = capsys.readouterr().err
    assert "random_search" in err and "/1s" in err  # a bar over the (rounded up) 1 s budget


def test_a_layout_averaged_objective_is_the_mean_loss_over_the_graph_seed_and_the_next_ones(loss):
    from proxymat.optimize.objective import layout_seeds

    assert layout_seeds(5, 3) == [5, 6, 7]
    own, other = tiny_graph(), tiny_graph()
    other.seed = own.seed + 1
    single = objective(loss)
    a, b = single.real_loss(own), single.real_loss(other)
    assert abs(a - b) > 1e-5  # the layouts differ, so the mean is not either one
    x = single.x0
    assert single.f(x) == pytest.approx(a, rel=1e-5)
    averaged = objective(loss, layouts=2)
    assert averaged.f(x) == pytest.approx((a + b) / 2, rel=1e-5)
    assert averaged.evaluations == 1  # one point, whatever the number of layouts
    batch = averaged.f_batch(np.stack([x, x]))
    assert batch == pytest.approx([(a + b) / 2] * 2, rel=1e-5)


def test_an_objective_needs_at_least_one_layout(loss):
    with pytest.raises(ValueError, match="layouts must be >= 1, got 0"):
        objective(loss, layouts=0)

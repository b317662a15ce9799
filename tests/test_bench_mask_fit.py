"""E4 mask-fitting benchmark: search space, objective, the fitting paths, time-to-loss, reporting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from proxymat.benchmarks.mask_fit import (
    BoxSpace,
    FitResult,
    GeneratorObjective,
    best_at,
    DIRECT,
    PROXY_DIRECT,
    MaskLoss,
    fit_direct_adam,
    fit_gradient_free,
    fit_proxy_adam,
    grid_fixed,
    make_targets,
    merge_rows,
    run_mask_fit,
    summarize,
    write_curves,
)
from proxymat.nodes.generators import get_generator
from proxymat.proxy.model import ProxyConfig, build_proxy, normalize_params

RES = 32


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space() -> BoxSpace:
    return BoxSpace.of(get_generator("pptbf_mask_cellular"))


@pytest.fixture(scope="module")
def proxy(space):
    return build_proxy(ProxyConfig(n_params=space.dim, res=RES, channels=(16, 16, 8, 8)), seed=3).eval()


def test_box_space_maps_unit_cube_onto_sampling_box(space):
    spec = space.spec
    assert [p.name for p in space.params] == sorted(spec.sample_box, key=[p.name for p in spec.params].index)
    lo = space.real(torch.zeros(1, space.dim))
    hi = space.real(torch.ones(1, space.dim))
    for p in space.params:
        assert float(lo[p.name]) == pytest.approx(spec.sample_box[p.name][0])
        assert float(hi[p.name]) == pytest.approx(spec.sample_box[p.name][1])
    assert float(lo["tiling"]) == spec.fixed["tiling"]
    x = torch.rand(3, space.dim, generator=torch.Generator().manual_seed(0))
    real = space.real(x)
    expected = normalize_params(spec, {p.name: real[p.name] for p in space.params})
    assert torch.allclose(space.proxy_input(x), expected)


def test_proxy_input_is_differentiable(space):
    x = torch.full((1, space.dim), 0.5, requires_grad=True)
    space.proxy_input(x).sum().backward()
    assert x.grad is not None and bool((x.grad > 0).all())  # each P column grows with its x


def test_objective_scores_real_renders_with_the_mask_loss(space):
    target, _ = make_targets(space, 1, RES)
    loss = MaskLoss(target)
    obj = GeneratorObjective(space, loss, RES, max_evals=10)
    X = np.random.default_rng(0).random((3, space.dim))
    got = obj.f_batch(X)
    with torch.no_grad():
        want = loss.per_image(space.render(torch.from_numpy(X).float(), RES)).double().numpy()
    assert np.allclose(got, want, rtol=1e-5)
    assert obj.evaluations == 3 and obj.best_loss == pytest.approx(want.min())


def test_mask_loss_is_zero_on_the_target_and_sees_the_white_fraction(space):
    target, _ = make_targets(space, 1, RES)
    loss = MaskLoss(target)
    assert float(loss.per_image(target)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss.per_image(1.0 - target)) > 0.05


def test_proxy_adam_reports_real_losses_it_can_reproduce(space, proxy):
    target, _ = make_targets(space, 1, RES)
    loss = MaskLoss(target)
    res = fit_proxy_adam(space, proxy, loss, RES, n_init=8, starts=2, steps=6, check_every=3)
    assert len(res.history) == 3 and res.evaluations == 6  # checks at 0, 3 and the end, 2 starts each
    assert [v for _, v in res.history] == sorted((v for _, v in res.history), reverse=True)
    with torch.no_grad():
        again = float(loss.per_image(space.render(torch.tensor([res.x]), RES)))
    assert again == pytest.approx(res.loss, rel=1e-5)


def test_direct_adam_moves_only_the_direct_parameters_and_lowers_the_real_loss(space):
    """From the target's parameters with a wrong white fraction and window, Adam through the real
    generator (128 px) lowers the real loss; zoom and aspect (no direct gradient) stay put."""
    names = [p.name for p in space.params]
    x_true = torch.full((1, space.dim), 0.5)
    loss = MaskLoss(space.render(x_true, 128, seed=7))
    start = x_true.clone()
    start[0, names.index("threshold")] = 0.1
    start[0, names.index("window_sigma")] = 0.9
    res = fit_direct_adam(space, loss, 128, steps=12, lr=0.05, check_every=4, x0=start[0].tolist())
    assert res.method == DIRECT and res.evaluations == 4 and len(res.history) == 4  # checks at 0, 4, 8, end
    first, last = res.history[0][1], res.history[-1][1]
    assert last < 0.5 * first, res.history
    x = torch.tensor(res.x)
    for name in ("zoom", "aspect"):
        assert float(x[names.index(name)]) == float(start[0, names.index(name)])
    assert float(x[names.index("threshold")]) > 0.2  # the white fraction moved towards the target's


def test_grid_fixed_finds_the_cell_count_the_gradient_cannot(space):
    """Zoom and aspect far off, the rest at the target's: the 5 x 5 grid (which holds the target's
    zoom and aspect) puts them back and leaves the direct coordinates alone."""
    names = [p.name for p in space.params]
    x_true = torch.full((1, space.dim), 0.5)
    loss = MaskLoss(space.render(x_true, 128, seed=7))
    start = x_true.clone()
    start[0, names.index("zoom")], start[0, names.index("aspect")] = 1.0, 0.0
    found = grid_fixed(space, loss, start, 128, 5)
    assert float(found[0, names.index("zoom")]) == 0.5 and float(found[0, names.index("aspect")]) == 0.5
    free = space.direct_mask()
    assert torch.equal(found[:, free], start[:, free])
    with torch.no_grad():
        assert float(loss.per_image(space.render(found, 128))) < 0.5 * float(loss.per_image(space.render(start, 128)))


def test_direct_adam_from_x0_beside_random_starts(space):
    """x0 is the first start; random ones join it only on request, and the best of all is returned."""
    target, _ = make_targets(space, 1, 32)
    loss = MaskLoss(target)
    x0 = [0.5] * space.dim
    alone = fit_direct_adam(space, loss, 32, steps=2, check_every=1, x0=x0)
    both = fit_direct_adam(space, loss, 32, steps=2, check_every=1, x0=x0, starts=2, n_init=8)
    plain = fit_direct_adam(space, loss, 32, steps=2, check_every=1, starts=2, n_init=8)
    assert (alone.evaluations, both.evaluations, plain.evaluations) == (3, 9, 6)  # 3 checks of 1, 3, 2 starts
    assert both.loss == pytest.approx(min(alone.loss, plain.loss), rel=1e-5)  # independent starts (to rounding:
    # batched renders round differently, and long runs drift apart)
    with pytest.raises(ValueError, match="needs a start"):
        fit_direct_adam(space, loss, 32, steps=1, starts=0)


def test_direct_adam_needs_direct_parameters():
    other = BoxSpace.of(get_generator("pptbf_rank_cellular"))
    with pytest.raises(ValueError, match="declares no direct parameters"):
        fit_direct_adam(other, MaskLoss(torch.zeros(1, 1, 32, 32)), 32, steps=1)


def test_gradient_free_respects_the_budget_and_improves_on_random(space):
    target, _ = make_targets(space, 1, RES)
    loss = MaskLoss(target)
    res = fit_gradient_free("powell_bo", space, loss, RES, budget_s=1.5, n_init=4)
    assert res.seconds < 4.0 and res.evaluations > 4
    assert res.loss <= min(v for _, v in res.history[:1])
    with pytest.raises(ValueError, match="unknown method"):
        fit_gradient_free("annealing", space, loss, RES, budget_s=0.5, n_init=2)


def test_the_published_schedule_ends_on_its_own_before_the_budget(space, monkeypatch):
    import proxymat.benchmarks.mask_fit as bmf

    loss = MaskLoss(make_targets(space, 1, RES)[0])
    monkeypatch.setattr(bmf, "HU2022_SCHEDULE", {"rounds": 0, "powell_maxiter": 1, "bo_iters": 300})  # final Powell
    res = fit_gradient_free("powell_bo_schedule", space, loss, RES, budget_s=60.0, n_init=4)
    assert res.seconds < 30.0 and res.evaluations > 4 + space.dim  # Powell ran, then the schedule ended
    monkeypatch.setattr(bmf, "HU2022_SCHEDULE", {"rounds": 1, "powell_maxiter": 1, "bo_iters": 300})
    longer = fit_gradient_free("powell_bo_schedule", space, loss, RES, budget_s=60.0, n_init=4)
    assert longer.evaluations > res.evaluations and longer.loss <= res.loss  # same start, one more round


def test_gradient_free_progress_bar_on_request(space, capsys):
    loss = MaskLoss(make_targets(space, 1, RES)[0])
    fit_gradient_free("random_search", space, loss, RES, budget_s=0.3)
    assert capsys.readouterr().err == ""
    res = fit_gradient_free("random_search", space, loss, RES, budget_s=0.3, progress=True)
    err = capsys.readouterr().err
    assert "random_search" in err and "/1s" in err and res.evaluations > 0  # the bar over the 1 s budget


def test_time_to_loss():
    r = FitResult("m", 0.1, 5.0, [], history=[(1.0, 0.5), (2.0, 0.3), (4.0, 0.1)])
    assert r.time_to(0.3) == 2.0 and r.time_to(0.35) == 2.0 and r.time_to(0.05) is None


def test_improvements_keep_only_new_bests_and_answer_time_to():
    r = FitResult("m", 0.1, 5.0, [], history=[(1.0, 0.5), (1.5, 0.5), (2.0, 0.3), (3.0, 0.3), (4.0, 0.1)])
    assert r.improvements() == [[1.0, 0.5], [2.0, 0.3], [4.0, 0.1]]
    thinned = FitResult("m", 0.1, 5.0, [], history=[tuple(p) for p in r.improvements()])
    assert all(thinned.time_to(v) == r.time_to(v) for v in (0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05))


def test_run_and_summarize(space, proxy, tmp_path):
    rows = run_mask_fit(space.spec, proxy, n_targets=1, res=RES, budget_s=1.0, methods=("random_search",), steps=3,
                        figures=tmp_path)
    assert (tmp_path / "e4_target0.png").stat().st_size > 100
    assert (tmp_path / "e4_curves.png").stat().st_size > 100
    with torch.no_grad():  # each row's x reproduces its loss
        for r in rows:
            again = float(MaskLoss(make_targets(space, 1, RES)[0]).per_image(space.render(torch.tensor([r["x"]]), RES)))
            assert again == pytest.approx(r["loss"], rel=1e-4)
    assert [r["method"] for r in rows] == ["proxy_adam", "random_search"]
    gf = rows[1]
    assert (gf["speedup"] is None) != (gf["speedup_lower_bound"] is None)
    assert "true_params_loss" in gf
    for r in rows:  # the saved history is the run's own: its last point is the final loss
        assert r["history"][-1][1] == pytest.approx(r["loss"])
        assert all(b[1] < a[1] and b[0] >= a[0] for a, b in zip(r["history"], r["history"][1:]))
        tt = r["time_to_true_params_loss"]
        assert (tt is None) == (r["loss"] > r["true_params_loss"] + 1e-12)
    table = summarize(rows)
    assert table.count("\n") == 3 and "random_search" in table
    tt = gf["time_to_true_params_loss"]
    cells = [c.strip() for c in table.splitlines()[-1].strip("|").split("|")]
    assert cells[-2:] == [f"{gf['true_params_loss']:.4f}", "never" if tt is None else f"{tt:.1f} s"]


def test_run_with_the_direct_method_gives_a_comparable_row(space, proxy):
    rows = run_mask_fit(space.spec, proxy, n_targets=1, res=RES, methods=(DIRECT,), steps=4, search=4, direct_res=16)
    ours, direct = rows
    assert direct["method"] == DIRECT and direct["work_res"] == 16 and direct["renders"] == 2 * 4  # 2 checks
    assert (direct["speedup"] is None) != (direct["speedup_lower_bound"] is None)
    with torch.no_grad():  # its x reproduces its loss at the masks' resolution
        loss = MaskLoss(make_targets(space, 1, RES)[0])
        again = float(loss.per_image(space.render(torch.tensor([direct["x"]]), RES)))
    assert again == pytest.approx(direct["loss"], rel=1e-4)
    assert DIRECT in summarize(rows)


def test_proxy_then_direct_continues_the_proxy_fit_with_zoom_and_aspect_kept(space, proxy):
    rows = run_mask_fit(space.spec, proxy, n_targets=1, res=RES, methods=(PROXY_DIRECT,), steps=4, search=4,
                        direct_res=16, direct_steps=6, direct_lr=0.05)
    ours, hybrid = rows
    assert hybrid["method"] == PROXY_DIRECT and hybrid["work_res"] == 16
    assert (hybrid["direct_steps"], hybrid["direct_lr"], hybrid["direct_grid"], hybrid["direct_random"]) == (6, 0.05, 0, 0)
    assert hybrid["loss"] <= ours["loss"] + 1e-9  # its first check is the proxy fit's result
    assert hybrid["seconds"] >= ours["seconds"] and hybrid["renders"] == ours["renders"] + 2  # checks at 0 and the end
    assert hybrid["history"][:len(ours["history"])] == ours["history"]  # the proxy fit's clock goes on
    names = [p.name for p in space.params]
    for name in ("zoom", "aspect"):  # no gradient reaches them: they stay where the proxy put them
        assert hybrid["x"][names.index(name)] == pytest.approx(ours["x"][names.index(name)], abs=1e-7)
    with torch.no_grad():  # its x reproduces its loss at the masks' resolution
        loss = MaskLoss(make_targets(space, 1, RES)[0])
        again = float(loss.per_image(space.render(torch.tensor([hybrid["x"]]), RES)))
    assert again == pytest.approx(hybrid["loss"], rel=1e-4)
    assert "time_to_powell_bo_schedule_loss" in hybrid and hybrid["time_to_powell_bo_schedule_loss"] is None
    assert summarize(rows).splitlines()[-1].split("|")[7].strip() == "-"  # no speed-up for a hybrid


def test_proxy_then_powell_starts_from_the_proxy_result(space, proxy):
    rows = run_mask_fit(space.spec, proxy, n_targets=1, res=RES, budget_s=2.0,
                        methods=("powell_bo", "proxy_then_powell_bo"), steps=3)
    ours, plain, hybrid = rows
    assert "time_to_powell_bo_loss" in hybrid and "speedup" not in hybrid
    assert summarize(rows).splitlines()[-1].split("|")[7].strip() == "-"  # no speed-up for the hybrid
    assert hybrid["method"] == "proxy_then_powell_bo"
    assert hybrid["loss"] <= ours["loss"] + 1e-9  # it starts where the proxy run ended
    assert hybrid["seconds"] >= ours["seconds"]  # and its clock includes the proxy run
    assert hybrid["renders"] > ours["renders"]


def test_rows_are_handed_over_after_each_target(space, proxy):
    """`bench e4 --json-out` saves through ``on_rows``: a run killed at target 2 keeps target 1."""
    seen = []
    rows = run_mask_fit(space.spec, proxy, n_targets=2, res=RES, budget_s=0.2, methods=("random_search",), steps=2,
                        on_rows=lambda so_far: seen.append([(r["target"], r["method"]) for r in so_far]))
    assert seen == [[(0, "proxy_adam"), (0, "random_search")],
                    [(0, "proxy_adam"), (0, "random_search"), (1, "proxy_adam"), (1, "random_search")]]
    assert len(rows) == 4


def _row(target, method, loss, history, reachable=0.01):
    return {"target": target, "method": method, "loss": loss, "seconds": history[-1][0], "renders": 1, "x": [],
            "history": history, "true_params_loss": reachable, "time_to_true_params_loss": None,
            **({} if method == "proxy_adam" else {"time_to_proxy_loss": None, "speedup": None,
                                                  "speedup_lower_bound": 2.0})}


def test_merge_rows_keeps_each_target_and_method_once_in_target_order():
    a = [_row(0, "proxy_adam", 0.2, [[1, 0.3], [2, 0.2]]), _row(0, "cma_es", 0.1, [[1, 0.5], [9, 0.1]]),
         _row(1, "proxy_adam", 0.2, [[1, 0.2]]), _row(1, "cma_es", 0.3, [[4, 0.3]])]
    b = [_row(0, "proxy_adam", 0.9, [[1, 0.9]]), _row(0, "powell_bo", 0.15, [[3, 0.15]]),
         _row(1, "proxy_adam", 0.9, [[1, 0.9]]), _row(1, "powell_bo", 0.25, [[3, 0.25]])]
    merged = merge_rows(a, b)
    assert [(r["target"], r["method"]) for r in merged] == [
        (0, "proxy_adam"), (0, "cma_es"), (0, "powell_bo"), (1, "proxy_adam"), (1, "cma_es"), (1, "powell_bo")]
    assert merged[0]["loss"] == 0.2  # the first file's proxy row wins


def test_summary_gives_each_gradient_free_loss_at_the_proxy_fits_time():
    rows = [_row(0, "proxy_adam", 0.2, [[1, 0.3], [2, 0.2]]), _row(0, "cma_es", 0.1, [[1, 0.5], [2.5, 0.4], [9, 0.1]]),
            _row(1, "proxy_adam", 0.2, [[1, 0.2]]), _row(1, "cma_es", 0.3, [[4, 0.3]])]
    lines = summarize(rows).splitlines()
    column = [c.strip() for c in lines[0].strip("|").split("|")].index("loss at proxy+Adam's time")
    cells = [[c.strip() for c in line.strip("|").split("|")][column] for line in lines[2:]]
    assert cells == ["-", "0.5000", "-", "-"]  # at 2 s CMA-ES had 0.5; on target 1 nothing before 4 s > 1 s
    assert best_at([[1, 0.5], [2.5, 0.4]], 2.5) == 0.4 and best_at([[1, 0.5]], 0.5) is None


def test_curves_figure_has_a_panel_per_target_and_draws_each_method(tmp_path):
    from PIL import Image

    rows = [_row(0, "proxy_adam", 0.02, [[2.0, 0.05], [30.0, 0.02]]), _row(0, "cma_es", 0.01, [[1.0, 0.2], [500.0, 0.01]]),
            _row(1, "proxy_adam", 0.02, [[2.0, 0.03]]), _row(1, "cma_es", 0.04, [[1.0, 0.1], [50.0, 0.04]])]
    path = write_curves(rows, tmp_path / "curves.png")
    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert img.shape[:2] == (260, 840)  # two 420 x 260 panels side by side
    for panel in (img[:, :420], img[:, 420:]):  # both methods' colours appear in both panels
        for colour in ((214, 39, 40), (31, 119, 180)):
            assert (np.abs(panel - np.array(colour)).sum(-1) == 0).sum() > 20
    with pytest.raises(ValueError, match="no rows with a history"):
        write_curves([{k: v for k, v in rows[0].items() if k != "history"}], tmp_path / "none.png")


def test_e4_curves_script_merges_files(tmp_path, capsys):
    import json
    import runpy
    import sys
    from pathlib import Path

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([_row(0, "proxy_adam", 0.02, [[2.0, 0.02]]), _row(0, "cma_es", 0.01, [[1.0, 0.01]])]))
    b.write_text(json.dumps([_row(0, "proxy_adam", 0.02, [[2.0, 0.02]]), _row(0, "powell_bo", 0.03, [[1.0, 0.03]])]))
    script = Path(__file__).resolve().parents[1] / "bench" / "e4_curves.py"
    argv = sys.argv
    try:
        sys.argv = [str(script), str(a), str(b), "--figure", str(tmp_path / "c.png")]
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert out.count("| 0 |") == 3 and (tmp_path / "c.png").exists()
    sys.argv = [str(script), str(tmp_path / "missing.json")]
    try:
        with pytest.raises(SystemExit):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert "cannot read rows" in capsys.readouterr().err

"""The count search: its layout spectrum, its grids, and the stage (ranking, re-fit, record, resume)."""

import json

import pytest
import torch

from proxymat.graph import Graph
from proxymat.optimize import counts as counts_module
from proxymat.optimize.counts import count_grid, layout_distance, layout_spectrum, shortlist
from proxymat.optimize.stages import Optimization
from proxymat.render import render
from test_optimize import RES, config, tiny_graph


def brick_graph(bricks_x: int = 3, bricks_y: int = 16, dirt: bool = False) -> Graph:
    """Bricks through a levels filter into colour and normal; ``dirt`` multiplies clouds in (a second node
    with counts: its scale and octaves)."""
    g = Graph("bricks", res=RES)
    b = g.add("brick_generator", name="bricks", bricks_x=bricks_x, bricks_y=bricks_y, gap_x=0.08, gap_y=0.1)
    if dirt:
        c = g.add("clouds", name="dirt", scale=8, octaves=4)
        b = g.add("blend", name="mix", foreground=c, background=b, mode="multiply", opacity=0.3)
    h = g.add("levels", name="lv", input=b, in_high=0.9)
    g.add("height_to_normal", name="normal", input=h, intensity=1.0)
    col = g.add("gradient_map", name="color", input=h)
    g.set_output("basecolor", col)
    g.set_output("normal", "normal")
    g.set_output("roughness", 0.5)
    g.set_output("metallic", 0.0)
    return g


def rendered(graph: Graph, seed: int = 7) -> torch.Tensor:
    graph = graph.copy()
    graph.seed = seed
    with torch.no_grad():
        return render(graph.evaluate(RES))


@pytest.fixture(scope="module")
def brick_target() -> torch.Tensor:
    """7 x 7 bricks, another colour ramp and mortar level, at another layout seed than the runs'."""
    g = brick_graph(7, 7)
    g.set_param("color", "color_4", (0.8, 0.3, 0.2))
    g.set_param("lv", "in_high", 0.6)
    return rendered(g)


# ----------------------------------------------------------- the layout spectrum
def test_the_layout_spectrum_ignores_brightness_contrast_and_where_the_layout_sits():
    img = rendered(tiny_graph())
    ref = layout_spectrum(img, RES)
    assert layout_distance(img, ref).item() == pytest.approx(0.0, abs=1e-6)
    assert layout_distance(0.4 * img + 0.3, ref).item() < 1e-3  # levels and contrast: what filters set
    assert layout_distance(torch.roll(img, shifts=(11, 5), dims=(-2, -1)), ref).item() < 1e-3  # a tile, shifted
    other = tiny_graph()
    other.set_param("cells", "scale", 12)
    assert layout_distance(rendered(other), ref).item() > 0.3


def test_the_layout_spectrum_is_cut_to_the_lowest_frequencies():
    img = torch.rand(2, 3, RES, RES)
    assert layout_spectrum(img, RES).shape == (2, 63, 63)  # k = min(32, 64 / 2 - 1) = 31
    assert layout_spectrum(img, RES, kmax=8).shape == (2, 17, 17)


def test_count_grid_takes_every_value_of_a_small_box_and_log_spaced_ones_of_a_large_box():
    spec = brick_graph().param_specs("generators")["bricks.bricks_x"]  # 1-64
    u = lambda v: float(spec.normalize(v)[0])  # noqa: E731
    assert count_grid(spec, (u(2), u(9)), 3) == list(range(2, 10))
    wide = count_grid(spec, (u(1), u(64)), 37, n=8)
    assert wide[0] == 1 and wide[-1] == 64 and 37 in wide and len(wide) == 9
    assert all(b > a for a, b in zip(wide, wide[1:]))
    assert wide[:4] == [1, 2, 3, 6]  # log-spaced: 1 * 64 ** (i / 7)


def power_law_filtered(img: torch.Tensor, exponent: float) -> torch.Tensor:
    """``img`` with its Fourier amplitudes multiplied by ``|f| ** exponent`` (the mean kept): a change of the
    spectrum's slope alone, as sharper edges or stronger shading make."""
    n = img.shape[-1]
    f = torch.fft.fftfreq(n) * n
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    gain = torch.where(radius > 0, radius.clamp_min(1.0) ** exponent, torch.ones_like(radius))
    return torch.fft.ifft2(torch.fft.fft2(img) * gain).real


def test_the_detrended_spectrum_sees_the_slope_that_filters_set_less_than_a_scale():
    img = rendered(tiny_graph())
    steeper = power_law_filtered(img, 0.5)
    plain, flat = (layout_spectrum(img, RES, detrend=d) for d in (False, True))
    other = tiny_graph()
    other.set_param("cells", "scale", 6)
    coarser = rendered(other)
    # plain: the new slope scores as far as a 6/4 scale change (1.03 against 1.04 when written)
    assert layout_distance(steeper, plain).item() > 0.9 * layout_distance(coarser, plain).item()
    # detrended: a third of the plain distance (what is left: the log's floor and the frequency cut), a
    # third of the scale change's (0.29 against 0.95), which the detrending keeps
    assert layout_distance(steeper, flat, detrend=True).item() < 0.35 * layout_distance(steeper, plain).item()
    assert layout_distance(steeper, flat, detrend=True).item() < 0.4 * layout_distance(coarser, flat, detrend=True).item()
    assert layout_distance(coarser, flat, detrend=True).item() > 0.8 * layout_distance(coarser, plain).item()


def test_a_detrended_spectrum_has_no_slope_left():
    spectrum = layout_spectrum(torch.rand(3, 3, RES, RES), RES, detrend=True)
    k = spectrum.shape[-1] // 2
    f = torch.arange(-k, k + 1, dtype=torch.float32)
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2).reshape(-1)
    keep = radius > 0  # the zero frequency is left out of the fit
    residual = spectrum.reshape(3, -1)[:, keep]
    x = torch.log(radius[keep])
    assert residual.mean(dim=1).abs().max() < 1e-4  # no offset
    assert (residual * (x - x.mean())).mean(dim=1).abs().max() < 1e-4  # no slope in log |f|


def test_the_shortlist_takes_each_rankings_best_in_turn_without_repeats_or_the_current_counts():
    distances = [(0.0, 0.0), (0.1, 0.9), (0.2, 0.8), (0.3, 0.1), (0.4, 0.2), (0.5, 0.3)]
    assert shortlist(distances, 4) == [(1, 0), (3, 1), (2, 0), (4, 1)]
    assert shortlist([(0.0, 0.0), (0.1, 0.1), (0.2, 0.2)], 4) == [(1, 0), (2, 0)]  # one order: no repeats
    assert shortlist(distances, 1) == [(1, 0)]


def test_a_promising_candidate_gets_more_re_fit_and_so_does_the_current_layout(brick_target, monkeypatch):
    """A layout whose filters need longer than ``sweep_iters`` to catch up (scored by a stand-in re-fit whose
    loss falls with the iterations): it wins only after the extension, and the current layout gets the
    same extension first."""
    run = Optimization(brick_graph(3, 16), brick_target, config(count_search=2, sweep_iters=10, sweep_noise=0),
                       progress=False, log=lambda s: None)
    ev = run.evaluator
    current = ev.real_loss()
    calls: list[tuple[tuple[int, int], int]] = []

    def refit(ev_, host, graph, iters):
        counts = (graph.value("bricks.bricks_x"), graph.value("bricks.bricks_y"))
        calls.append((counts, iters))
        done = sum(i for c, i in calls if c == counts)
        if counts == (3, 16):  # the current layout: already fitted
            return current * 0.99, ev_.values("filters", graph)
        if counts == (7, 7):  # the far layout: 1.125x after 10 iterations, 0.875x after 30
            return current * (1.25 - 0.0125 * done), ev_.values("filters", graph)
        return current * 1.15, ev_.values("filters", graph)

    monkeypatch.setattr(counts_module, "refit_filters", refit)
    monkeypatch.setattr(counts_module, "rank", lambda ev_, keys, combos: [
        (0.0, 0.0) if c == (3, 16) else (0.0 if c == (4, 16) else 1.0, 0.0 if c == (7, 7) else 1.0) for c in combos])
    change = counts_module.search_node(ev, run, ["bricks.bricks_x", "bricks.bricks_y"])
    assert change == "bricks.bricks_x=7, bricks.bricks_y=7"
    assert [c for c, i in calls if i == 10] == [(4, 16), (7, 7)]  # the shortlist, one from each ranking
    assert sorted(c for c, i in calls if i == 20) == [(3, 16), (4, 16), (7, 7)]  # extended: both, and the current


def test_no_extension_when_a_candidate_already_wins_or_none_is_near(brick_target, monkeypatch):
    run = Optimization(brick_graph(3, 16), brick_target, config(count_search=2, sweep_iters=10, sweep_noise=0),
                       progress=False, log=lambda s: None)
    ev = run.evaluator
    current = ev.real_loss()
    for factor, change in ((0.5, "bricks.bricks_x=4, bricks.bricks_y=16"), (2.0, None)):
        calls: list[int] = []

        def refit(ev_, host, graph, iters, factor=factor):
            calls.append(iters)
            return current * factor, ev_.values("filters", graph)

        monkeypatch.setattr(counts_module, "refit_filters", refit)
        monkeypatch.setattr(counts_module, "rank", lambda ev_, keys, combos: [
            (0.0, 0.0) if c == (3, 16) else (0.0 if c == (4, 16) else 1.0, 0.5) for c in combos])
        assert counts_module.search_node(ev, run, ["bricks.bricks_x", "bricks.bricks_y"]) == change
        assert calls == [10, 10]  # the two short re-fits only
        ev.graph = brick_graph(3, 16)


# ----------------------------------------------------------- the stage
def test_count_search_finds_counts_several_units_off_and_records_the_change(brick_target):
    logs: list[str] = []
    run = Optimization(brick_graph(3, 16), brick_target, config(count_search=3, sweep_iters=10, sweep_noise=0),
                       progress=False, log=logs.append)
    run.stage1()
    before = run.evaluator.real_loss()
    ranked = counts_module.combinations(run.evaluator, ["bricks.bricks_x", "bricks.bricks_y"])
    distances = counts_module.rank(run.evaluator, ["bricks.bricks_x", "bricks.bricks_y"], ranked)
    assert ranked[min(range(len(ranked)), key=lambda i: distances[i][0])] == (7, 7)  # the spectrum ranks the truth first
    run.counts()
    record = run.records[-1]
    assert (run.graph.value("bricks.bricks_x"), run.graph.value("bricks.bricks_y")) == (7, 7), logs[-1]
    assert record.name == "counts" and "changed bricks.bricks_x=7, bricks.bricks_y=7" in record.note
    assert record.loss_end < 0.8 * before and record.loss_end == pytest.approx(run.evaluator.real_loss())
    assert "counts" in run.renders


def test_count_search_keeps_counts_that_already_fit(brick_target):
    start = brick_graph(7, 7)
    start.set_param("color", "color_4", (0.8, 0.3, 0.2))
    start.set_param("lv", "in_high", 0.6)
    run = Optimization(start, brick_target, config(count_search=3, sweep_iters=10), progress=False, log=lambda s: None)
    before = run.graph.to_dict()
    run.counts()
    assert run.graph.to_dict() == before and run.records[-1].note == "1 node(s); no count changed"


def test_count_search_without_counts_says_so(brick_target):
    g = brick_graph()
    g.free = {"lv.in_high": (0.0, 1.0)}  # only a filter moves
    run = Optimization(g, brick_target, config(count_search=3), progress=False, log=lambda s: None)
    run.counts()
    assert run.records[-1].note == "no counts to search" and run.records[-1].loss_start == run.records[-1].loss_end


def test_the_pipeline_runs_the_count_search_after_stage1_only_when_asked(brick_target):
    on = Optimization(brick_graph(), brick_target, config(count_search=2, sweep_iters=4, iters2=2, polish=0),
                      progress=False, log=lambda s: None).run()
    assert [r.name for r in on.records][:2] == ["stage1", "counts"]
    off = Optimization(brick_graph(), brick_target, config(count_search=0, iters2=2, polish=0), progress=False,
                       log=lambda s: None).run()
    assert "counts" not in [r.name for r in off.records]
    from proxymat.optimize.config import OptimizeConfig

    assert OptimizeConfig().count_search == 4  # on by default


class Stop(Exception):
    """Stands for a kill."""


def test_a_run_killed_within_the_count_search_resumes_with_the_next_node(brick_target, tmp_path, monkeypatch):
    cfg = config(count_search=2, sweep_iters=4, iters2=2, polish=0, stage3=False)
    graph = brick_graph(dirt=True)
    ref = Optimization(graph, brick_target, cfg, progress=False, log=lambda s: None).run()
    searched: list[list[str]] = []
    real = counts_module.search_node

    def killed_on_the_second_node(ev, host, keys):
        searched.append(list(keys))
        if len(searched) == 2:
            raise Stop
        return real(ev, host, keys)

    monkeypatch.setattr(counts_module, "search_node", killed_on_the_second_node)
    run = Optimization(graph, brick_target, cfg, out_dir=tmp_path, progress=False, log=lambda s: None,
                       checkpoint_every=0)
    with pytest.raises(Stop):
        run.run()
    saved = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert saved["partial"]["stage"] == "counts" and saved["partial"]["it"] == 1
    assert searched == [["bricks.bricks_x", "bricks.bricks_y"], ["dirt.scale", "dirt.octaves"]]
    monkeypatch.setattr(counts_module, "search_node", real)
    logs: list[str] = []
    result = Optimization(graph, brick_target, cfg, out_dir=tmp_path, progress=False, log=logs.append).run()
    assert any("within counts at step 1" in line for line in logs)
    assert result.graph.to_dict() == ref.graph.to_dict() and result.loss_final == ref.loss_final
    assert [(r.name, r.curve, r.note) for r in result.records] == [(r.name, r.curve, r.note) for r in ref.records]


def test_a_malformed_count_search_state_is_refused(brick_target, tmp_path):
    from proxymat.optimize.checkpoint import CheckpointError

    cfg = config(count_search=2, sweep_iters=4)
    run = Optimization(brick_graph(), brick_target, cfg, out_dir=tmp_path, progress=False, log=lambda s: None)
    run.save_checkpoint({"stage": "counts", "it": 0, "elapsed": 0.0, "start": 0.5, "curve": [0.5], "changes": [3]})
    again = Optimization(brick_graph(), brick_target, cfg, out_dir=tmp_path, progress=False, log=lambda s: None)
    with pytest.raises(CheckpointError, match="saved state of counts does not fit"):
        again.load_checkpoint()

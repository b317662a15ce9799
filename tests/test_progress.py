"""Progress bars: none unless stderr is a terminal; on a terminal an overall bar with an ETA for the whole run."""

import io
import re
from dataclasses import replace

import pytest
import torch

from proxymat.examples import resolve_graph
from proxymat.optimize.config import OptimizeConfig
from proxymat.optimize.loss import LossConfig
from proxymat.optimize.progress import NO_GRAD, RunProgress, bars_wanted, planned_work
from proxymat.optimize.stages import Optimization
from proxymat.render import render


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_when_requested_and_on_a_terminal():
    assert bars_wanted(True, Terminal())
    assert not bars_wanted(False, Terminal())
    assert not bars_wanted(True, io.StringIO())


def test_planned_work_counts_each_enabled_stage():
    c = OptimizeConfig(iters1=10, iters2=20, iters3=5, samples=8, rescore=2, search_refit=3, search_refit_iters=4,
                       stage2_check=10, polish=16, search_batch=8, sweep_iters=5, sweep_max=12)
    plan = planned_work(c, category_trials=3)
    assert plan["stage1"] == 10 and plan["stage3"] == 5
    assert plan["sweep"] == (1 + 3) * 5
    assert plan["stage2"] == pytest.approx(2 * (8 + 2 + 1) * NO_GRAD + (3 + 2) * 4 + 20 + 2 * NO_GRAD)
    assert plan["polish"] == pytest.approx(2 * 8 * NO_GRAD)
    assert "sweep" not in planned_work(c, category_trials=0)
    assert list(planned_work(OptimizeConfig(stage2=False, stage3=False))) == ["stage1"]


def test_planned_count_search_holds_its_longest_run():
    """The shortlist's re-fits plus the longer re-fit of both rankings' best and of the current counts."""
    from proxymat.optimize.counts import EXTEND, RANKINGS

    c = OptimizeConfig(count_search=4, sweep_iters=5)
    assert RANKINGS == 2 and EXTEND == 2
    assert planned_work(c, count_nodes=2)["counts"] == 2 * (4 + 2 * 2 + 2) * 5
    assert planned_work(replace(c, count_search=1), count_nodes=1)["counts"] == (1 + 1 * 2 + 2) * 5
    assert "counts" not in planned_work(c, count_nodes=0)


def test_overall_bar_follows_loops_and_jumps_to_finished_stages():
    out = Terminal()
    bars = RunProgress({"stage1": 10.0, "stage2": 30.0}, True, file=out)
    assert [i for i in bars.loop(range(4), desc="Stage I")] == [0, 1, 2, 3]
    assert bars.overall.n == pytest.approx(4)
    bars.finish_stage("stage1")
    assert bars.overall.n == pytest.approx(10)
    loop = bars.loop(total=3, desc="re-fits", units=8)
    loop.update(1)
    assert bars.overall.n == pytest.approx(18)
    loop.close()
    bars.finish_stage("stage2")  # Stage II stopped early: the bar still ends full
    assert bars.overall.n == pytest.approx(40)
    bars.close()
    text = out.getvalue()
    assert "optimize (all stages)" in text and "ETA" in text and "Stage I" in text


def test_disabled_bars_write_nothing_and_still_iterate():
    out = io.StringIO()
    bars = RunProgress({"stage1": 3.0}, True, file=out)  # not a terminal
    loop = bars.loop(range(3), desc="x")
    assert list(loop) == [0, 1, 2]
    loop.set_postfix(loss="1")
    bars.finish_stage("stage1")
    bars.close()
    assert out.getvalue() == ""


@pytest.fixture(scope="module")
def small_run():
    graph = resolve_graph("leather")
    with torch.no_grad():
        target = render(graph.evaluate(32))
    config = OptimizeConfig(res=32, iters1=3, iters2=3, iters3=3, samples=2, rescore=0, polish=4, search_batch=2,
                            sweep_iters=0, search_refit=0, stage2_check=0, loss=LossConfig(features="random", scales=(1.0,)))
    return graph, target, config


def test_optimization_on_a_terminal_shows_an_overall_eta(small_run, monkeypatch):
    graph, target, config = small_run
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    Optimization(graph, target, config, progress=True, log=lambda s: None).run()
    text = term.getvalue()
    assert re.search(r"optimize \(all stages\): +\d+%.*ETA", text)
    assert "100%" in text  # every stage finished: the overall bar ends full
    assert "Stage I (filters)" in text and "Polish (real generators)" in text


def test_optimization_off_a_terminal_writes_no_bars(small_run, capsys):
    graph, target, config = small_run
    Optimization(graph, target, config, progress=True, log=lambda s: None).run()
    assert capsys.readouterr().err == ""

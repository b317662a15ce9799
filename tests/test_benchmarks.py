"""Benchmark code paths stay runnable (smoke tests; speed goals live in docs/RESULTS.md)."""

import pytest
import torch

from proxymat.benchmarks.examples import parameter_error, run_example, seed_table, summarize
from proxymat.benchmarks.speed import bench_generators, bench_graph, benchmark_graph
from proxymat.examples import example_truth_text, resolve_graph
from proxymat.graph import Graph
from proxymat.optimize.stages import OptimizeConfig


def test_benchmark_graph_has_twenty_nodes_and_backpropagates():
    assert len(benchmark_graph().nodes) == 20
    row = bench_graph(res=32, iters=1)
    assert row["nodes"] == 20 and row["params"] > 30 and row["iteration_ms"] > 0


def test_generator_benchmark_rows():
    rows = bench_generators(resolutions=(16,), batch=2, iters=1, names=["cells"], random_params=True)
    assert len(rows) == 1 and rows[0]["name"] == "cells" and rows[0]["images_per_s"] > 0


def test_parameter_error_counts_only_changed_parameters():
    start = resolve_graph("leather")
    truth = Graph.loads(example_truth_text("leather"))
    assert parameter_error(truth, truth, start) == 0.0
    assert parameter_error(start, truth, start) > 0.0


def test_example_benchmark_runs_and_summarizes():
    torch.manual_seed(0)
    base = OptimizeConfig(iters1=2, iters2=2, iters3=2, samples=2)
    rows = run_example("plaster", ["full", "stage1", "random"], res=32, base=base, log=lambda s: None)
    assert [r["method"] for r in rows] == ["full", "stage1", "random"]
    for r in rows:
        assert r["loss"] <= r["loss_init"] + 1e-6 and "param_error" in r
    assert list(rows[0]["stages"]) == ["stage1", "counts", "sweep", "stage2", "polish", "stage3"]
    assert rows[0]["stages"]["sweep"]["note"] == "no categorical generator parameters"  # plaster: clouds only
    assert list(rows[1]["stages"]) == ["stage1"] and "stages" not in rows[2]  # the random baseline has no stages
    assert rows[1]["stages"]["stage1"]["loss_end"] == pytest.approx(rows[1]["loss"], abs=1e-4)
    table = summarize(rows)
    assert "| plaster |" in table and "**" in table and "Parameter error" in table and "Seconds:" in table
    # the truth drawn at 32 px is not the 256 px target shrunk (a floor above 0), and every row carries it
    assert len({r["loss_truth"] for r in rows}) == 1 and 0.0 < rows[0]["loss_truth"] < rows[0]["loss_init"]
    assert "| example | init | full | stage1 | random | truth |" in table


def test_the_loss_table_shows_the_truths_floor_where_an_example_has_one():
    rows = [{"example": e, "method": m, "loss_init": 0.5, "loss": v, "seconds": 1.0, **extra}
            for e, m, v, extra in [("leather", "full", 0.01, {"loss_truth": 0.02}), ("leather", "sa", 0.03, {"loss_truth": 0.02}),
                                   ("photo", "full", 0.2, {}), ("photo", "sa", 0.1, {})]]
    lines = summarize(rows).splitlines()
    assert lines[0] == "Loss on the render (lowest in bold; truth: the ground truth rendered at the working resolution):"
    assert lines[2:6] == ["| example | init | full | sa | truth |", "|---|---|---|---|---|",
                          "| leather | 0.5000 | **0.0100** | 0.0300 | 0.0200 |", "| photo | 0.5000 | 0.2000 | **0.1000** | - |"]
    assert summarize(rows[2:]).splitlines()[0] == "Loss on the render (lowest in bold):"  # no truth, no column


def test_summary_reports_loss_parameter_error_and_time_per_seed():
    rows = [{"example": e, "seed": sd, "method": m, "loss_init": 0.5, "loss": v, "seconds": t, **extra}
            for e, sd, m, v, t, extra in [
                ("leather", 0, "full", 0.01, 40.0, {"param_error": 0.05}),
                ("leather", 0, "sa", 0.02, 41.0, {"param_error": 0.04}),
                ("leather", 1, "full", 0.03, 42.0, {"param_error": 0.06}),
                ("leather", 1, "sa", 0.025, 43.0, {"param_error": 0.07}),
                ("photo", 0, "full", 0.2, 50.0, {}), ("photo", 0, "sa", 0.1, 51.0, {})]]
    lines = summarize(rows).splitlines()
    losses = lines[lines.index("| example | seed | init | full | sa |"):]
    assert losses[2:6] == ["| leather | 0 | 0.5000 | **0.0100** | 0.0200 |", "| leather | 1 | 0.5000 | 0.0300 | **0.0250** |",
                           "| photo | 0 | 0.5000 | 0.2000 | **0.1000** |", ""]
    errors = lines[lines.index("| example | seed | full | sa |"):]
    assert errors[2:5] == ["| leather | 0 | 0.050 | **0.040** |", "| leather | 1 | **0.060** | 0.070 |", ""]  # no photo row
    seconds = lines[len(lines) - 5:]
    assert seconds[0] == "| example | seed | full | sa |" and seconds[2] == "| leather | 0 | 40.0 | 41.0 |"
    assert seconds[-1] == "| photo | 0 | 50.0 | 51.0 |"
    one_seed = summarize(rows[:2]).splitlines()
    assert "| leather | 0.5000 | **0.0100** | 0.0200 |" in one_seed  # no seed column for a single seed


def test_example_benchmark_saves_rows_after_each_example(tmp_path, monkeypatch):
    """A long `bench examples` run killed midway keeps the rows it measured in --json-out."""
    import json

    import proxymat.benchmarks.examples as be
    from proxymat.cli import main

    done = []

    def fake_run_example(name, methods, **kw):
        if done:
            raise KeyboardInterrupt  # the run is killed during the second example
        done.append(name)
        return [{"example": name, "method": m, "loss": 0.5} for m in methods]

    monkeypatch.setattr(be, "run_example", fake_run_example)
    out = tmp_path / "rows.json"
    argv = ["bench", "examples", "--names", "plaster", "leather", "--methods", "full", "sa", "--json-out", str(out)]
    assert main(argv) == 130  # interrupted
    rows = json.loads(out.read_text())
    assert [(r["example"], r["method"]) for r in rows] == [("plaster", "full"), ("plaster", "sa")]


def test_example_benchmark_polish_option_reaches_the_pipeline(monkeypatch, capsys):
    import proxymat.benchmarks.examples as be
    from proxymat.cli import main

    seen = []
    monkeypatch.setattr(be, "run_example", lambda name, methods, base=None, **kw: seen.append(base) or [])
    assert main(["bench", "examples", "--names", "plaster", "--methods", "full", "--polish", "1024"]) == 0
    assert main(["bench", "examples", "--names", "plaster", "--methods", "full"]) == 0
    assert seen[0].polish == 1024 and seen[1].polish == OptimizeConfig().polish
    with pytest.raises(SystemExit):  # a negative budget is refused by the parser
        main(["bench", "examples", "--polish", "-1"])


def test_seed_table_bolds_the_lowest_competitor_and_counts_full_wins():
    rows = [{"example": e, "seed": sd, "method": m, "loss": v} for e, sd, m, v in [
        ("leather", 0, "full", 0.01), ("leather", 0, "no_refit", 0.001), ("leather", 0, "sa", 0.02),
        ("leather", 1, "full", 0.03), ("leather", 1, "sa", 0.02), ("leather", 1, "sa", 0.04),  # the later row wins
        ("stone", 0, "full", 0.05), ("stone", 0, "sa", 0.04)]]
    text, wins = seed_table(rows, ["full", "no_refit", "sa"])
    lines = text.splitlines()
    assert lines[2] == "| leather | 0 | **0.0100** | 0.0010 | 0.0200 | yes |"  # the ablation does not compete
    assert lines[3] == "| leather | 1 | **0.0300** | - | 0.0400 | yes |"
    assert lines[4] == "| stone | 0 | 0.0500 | - | **0.0400** | no |"
    assert wins == {"leather": [True, True], "stone": [False]}


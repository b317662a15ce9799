"""The parameter-recovery benchmark: drawn cases, scores, a tiny end-to-end run and its CLI."""

import json

import pytest
import torch

from proxymat.benchmarks.recovery import (TRUTH_SEED_BASE, case_key, draw_case, run_case, run_recovery, score, start_from_truth,
                                         summarize, varied_keys)
from proxymat.examples import example_truth_text, resolve_graph
from proxymat.graph import Graph
from proxymat.optimize.config import OptimizeConfig


def _example(name="leather"):
    return resolve_graph(name), Graph.loads(example_truth_text(name))


def test_draw_case_is_deterministic_and_moves_only_the_varied_parameters():
    start, truth = _example()
    keys = varied_keys(start, truth)
    a_start, a_truth, a_keys = draw_case(start, truth, 0)
    b_start, b_truth, _ = draw_case(start, truth, 0)
    assert a_keys == keys and a_start.dumps() == b_start.dumps() and a_truth.dumps() == b_truth.dumps()
    assert a_truth.seed == TRUTH_SEED_BASE and a_start.seed == start.seed
    other = draw_case(start, truth, 1)[1]
    assert other.dumps() != a_truth.dumps()
    s0, t0, s1, t1 = (g.normalized("all") for g in (start, truth, a_start, a_truth))
    for k in s0:
        if k not in keys:
            assert torch.equal(s1[k], s0[k]) and torch.equal(t1[k], t0[k])
    # the generator's draws stay in its proxy-training box (cells: disorder 0.3-1, scale 4-16)
    for g in (a_start, a_truth, other):
        assert 0.3 <= g.value("grain.disorder") <= 1.0 and 4 <= g.value("grain.scale") <= 16


def test_score_counts_enums_as_zero_or_one_and_judges_closer():
    start, truth = _example("leather")
    result = truth.copy()
    keys = ["grain.disorder", "grain.distance", "grain.scale"]
    s = start.copy()
    s.nodes["grain"].params["distance"] = "manhattan"
    r = truth.copy()
    r.nodes["grain"].params["disorder"] = 0.95 * truth.value("grain.disorder") + 0.05 * start.value("grain.disorder")
    out = score(r, s, truth, keys)
    assert out["per_param"]["grain.distance"] == [1.0, 0.0]  # the start's wrong metric counts 1, the result's right one 0
    assert out["judged"] == 3 and out["closer"] == 3
    assert score(s, s, truth, keys)["closer"] == 0
    assert out["filter_error"] == 0.0 and result.dumps() == truth.dumps()
    assert out["categories_lost"] == []


def test_score_lists_categorical_parameters_the_fit_changed_unasked():
    start, truth = _example("leather")
    keys = ["grain.disorder", "grain.scale"]  # the case does not vary the metric or the style
    squares = truth.copy()
    squares.nodes["grain"].params["distance"] = "chebyshev"
    out = score(squares, start, truth, keys)
    assert out["categories_lost"] == ["grain.distance"] and "grain.distance" not in out["per_param"]
    assert score(truth, start, truth, keys)["categories_lost"] == []
    rows = [{"method": "m", "gen_error": 0.1, "gen_error_start": 0.2, "closer": 1, "judged": 2, "filter_error": 0.0,
             "patch_swd": 1.0, "patch_swd_start": 2.0, "lab_distance": 0.1, "lab_distance_start": 0.2, "seconds": 1.0,
             "categories_lost": lost} for lost in ([], ["grain.distance"])]
    assert "| m | 2 | 0.200 -> 0.100 | 2/4 (50 %) | 1 |" in summarize(rows)
    assert "| 2/4 (50 %) | n/a |" in summarize([{k: v for k, v in r.items() if k != "categories_lost"} for r in rows])


def test_tiny_run_writes_rows_figures_and_a_table(tmp_path):
    base = OptimizeConfig(iters1=2, iters2=2, iters3=2, samples=4, rescore=1, polish=2, sweep_iters=0,
                          search_refit=0, stage2_check=1, stage2_patience=1)
    saved = []
    rows = run_recovery(["leather"], 1, ["default", "gram"], res=64, base=base, log=lambda s: None,
                        save=lambda r: saved.append(len(r)), figures=tmp_path)
    assert [r["method"] for r in rows] == ["default", "gram"] and saved == [2]
    for r in rows:
        assert r["example"] == "leather" and r["case"] == 0 and r["res"] == 64
        assert 0 <= r["gen_error"] <= 1 and r["patch_swd"] >= 0 and r["lab_distance"] >= 0
        json.dumps(r)
    assert (tmp_path / "recovery_leather_0.png").is_file()
    table = summarize(rows)
    assert "| default | 1 |" in table and "| gram | 1 |" in table
    assert "difference (gram - default)" in table and "| gen_error | 1 |" in table
    kept = run_recovery(["leather"], 1, ["default"], res=64, base=base, log=lambda s: None,
                        kept=lambda key, unit: [rows[0]] if key["example"] == "leather" else None)
    assert kept == [rows[0]]


def test_a_case_started_at_its_truth_starts_at_zero_error_on_another_layout():
    base = OptimizeConfig(iters1=1, iters2=1, iters3=1, samples=2, rescore=1, polish=1, sweep_iters=0,
                          search_refit=0, stage2_check=1, stage2_patience=1)
    row, images = run_case("leather", 0, "default", res=64, base=base, from_truth="all")
    assert row["gen_error_start"] == 0.0 and row["judged"] == 0  # nothing to get closer to
    assert row["from_truth"] == "all" and all(start == 0.0 for start, _ in row["per_param"].values())
    assert not torch.equal(images["start"], images["target"])  # same parameters, the optimization's own layout
    random_start, _ = run_case("leather", 0, "default", res=64, base=base)
    assert random_start["gen_error_start"] > 0 and "from_truth" not in random_start
    assert case_key("leather", 0, 64, base) != case_key("leather", 0, 64, base, from_truth="all")  # --resume keeps them apart


def test_start_from_truth_sets_only_the_asked_half_and_keeps_the_start_layout():
    start, truth = _example("leather")
    start, truth, keys = draw_case(start, truth, 0)
    gens = start_from_truth(start, truth, "generators")
    filters = start_from_truth(start, truth, "filters")
    assert start_from_truth(start, truth, "all").normalized("all").keys() == truth.normalized("all").keys()
    for k in keys:
        want_gen = gens.normalized("all")[k]
        if k.startswith("grain."):  # the cells generator
            assert torch.equal(want_gen, truth.normalized("all")[k]) and torch.equal(filters.normalized("all")[k], start.normalized("all")[k])
        else:
            assert torch.equal(want_gen, start.normalized("all")[k]) and torch.equal(filters.normalized("all")[k], truth.normalized("all")[k])
    assert gens.seed == filters.seed == start.seed != truth.seed
    with pytest.raises(ValueError, match="from_truth must be one of all, generators, filters"):
        start_from_truth(start, truth, "everything")


def test_cli_refuses_an_unknown_loss_variant(capsys):
    from proxymat.cli.main import main

    assert main(["bench", "recovery", "--losses", "nope"]) == 2
    assert "unknown loss variant nope (known: default, " in capsys.readouterr().err


def test_cli_passes_the_search_and_start_options_to_the_run(monkeypatch, tmp_path):
    import proxymat.benchmarks.recovery as recovery
    from proxymat.cli.main import main

    seen = {}

    def fake_run(names, truths, variants, res=128, base=None, from_truth="", **kw):
        seen.update(names=names, base=base, from_truth=from_truth)
        return []

    monkeypatch.setattr(recovery, "run_recovery", fake_run)
    out = tmp_path / "rows.json"
    assert main(["bench", "recovery", "--names", "bricks", "--samples", "256", "--search-refit", "32", "--sweep-counts",
                 "3", "--search-layouts", "2", "--count-search", "5", "--gradients", "straight+direct", "--polish-layouts",
                 "3", "--sweep-noise", "1", "--from-truth", "--json-out", str(out)]) == 0
    base = seen["base"]
    assert (base.samples, base.search_refit, base.sweep_counts, base.search_layouts) == (256, 32, 3, 2)
    assert (base.count_search, base.gradients, base.polish_layouts, base.sweep_noise) == (5, "straight+direct", 3, 1)
    assert seen["names"] == ["bricks"] and seen["from_truth"] == "all"
    assert main(["bench", "recovery", "--names", "bricks", "--from-truth", "generators", "--json-out", str(out)]) == 0
    assert seen["from_truth"] == "generators" and seen["base"].samples == OptimizeConfig().samples

"""Paired comparison of benchmark rows (proxymat.benchmarks.paired) and ``proxymat bench compare``."""

import json

import numpy as np
import pytest

from proxymat.benchmarks.paired import match, paired, table
from proxymat.cli.main import main


def _rows(errors, method="m", **extra):
    return [{"example": "leather", "case": k, "res": 128, "method": method, "gen_error": e, **extra}
            for k, e in enumerate(errors)]


def test_a_constant_shift_has_a_point_interval_and_counts_every_case():
    a = _rows([0.1, 0.2, 0.3, 0.4])
    b = _rows([0.15, 0.25, 0.35, 0.45])
    p = paired(match(a, b), "gen_error")
    assert p.n == 4 and p.diff == pytest.approx(0.05)
    assert p.low == pytest.approx(0.05) and p.high == pytest.approx(0.05)
    assert (p.lower, p.higher) == (0, 4) and p.mean_a == pytest.approx(0.25)
    same = paired(match(a, a), "gen_error")
    assert same.diff == 0 and same.low == same.high == 0 and (same.lower, same.higher) == (0, 0)


def test_the_interval_is_the_bootstrap_of_the_mean_difference_and_repeats():
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 40)
    d = rng.normal(0.0, 0.1, 40)
    a, b = _rows(base.tolist()), _rows((base + d).tolist())
    p = paired(match(a, b), "gen_error", level=0.9)
    assert p.diff == pytest.approx(d.mean())
    half = 1.645 * d.std(ddof=1) / np.sqrt(len(d))  # the normal approximation of the same interval
    assert p.low == pytest.approx(d.mean() - half, abs=0.3 * half)
    assert p.high == pytest.approx(d.mean() + half, abs=0.3 * half)
    assert paired(match(a, b), "gen_error", level=0.9) == p  # seeded
    assert paired(match(a, b), "gen_error", level=0.5).high < p.high


def test_rows_pair_by_case_not_by_order():
    a = _rows([0.1, 0.2, 0.3])
    b = list(reversed(_rows([0.1, 0.2, 0.9])))  # same cases, another order; case 2 differs
    p = paired(match(a, b), "gen_error")
    assert p.diff == pytest.approx(0.2) and (p.lower, p.higher) == (0, 1)
    other_res = [{**r, "res": 64} for r in b]
    with pytest.raises(ValueError, match="share no case"):
        match(a, other_res)
    with pytest.raises(ValueError, match="more than once"):
        match(a + _rows([0.5], method="n"), b)
    with pytest.raises(ValueError, match="no field 'loss'"):
        paired(match(a, b), "loss")
    with pytest.raises(ValueError, match="'method' is not a number"):
        paired(match(a, b), "method")
    with pytest.raises(ValueError, match="'gen_error' is not finite"):
        paired(match(a, [{**r, "gen_error": float("nan")} for r in b]), "gen_error")


def test_table_leaves_out_fields_a_row_lacks():
    a, b = _rows([0.1, 0.2], loss=1.0), _rows([0.2, 0.3])
    text = table(match(a, b), ["gen_error", "loss"], "old", "new")
    assert "| gen_error | 2 | 0.15 | 0.25 | +0.1 |" in text and "| loss |" not in text
    assert "difference (new - old)" in text


def test_bench_compare_prints_the_table_and_fails_in_one_line(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_rows([0.1, 0.2, 0.3], loss=0.5)))
    b.write_text(json.dumps(_rows([0.1, 0.1, 0.3], loss=0.4) + _rows([0.9], method="other")))
    assert main(["bench", "compare", str(a), str(b), "--method-b", "m", "--fields", "gen_error", "loss"]) == 0
    out = capsys.readouterr().out
    assert "| gen_error | 3 | 0.2 | 0.1667 | -0.03333 |" in out and "| 1 / 0 |" in out
    assert "| loss | 3 | 0.5 | 0.4 | -0.1 |" in out
    assert main(["bench", "compare", str(a), str(b), "--method-b", "m"]) == 0  # default: the recovery fields they have
    out = capsys.readouterr().out
    assert "| gen_error | 3 |" in out and "| loss | 3 |" in out and "| closer |" not in out
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for argv, message in [
        ([str(a), str(b)], "holds several methods (m, other): choose one with --method-a/--method-b"),
        ([str(a), str(b), "--method-b", "x"], "no row of method 'x' (methods: m, other)"),
        ([str(a), str(bad)], "bad.json: cannot read benchmark rows"),
        ([str(a), str(b), "--method-b", "m", "--fields", "seconds"], "--fields seconds: not a field of every matched row"),
        ([str(a), str(b), "--method-b", "m", "--level", "1.5"], "the interval's level must be between 0 and 1, got 1.5"),
        ([str(a), str(b), "--method-b", "m", "--fields", "method"], "field 'method' is not a number in every row"),
    ]:
        assert main(["bench", "compare", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1

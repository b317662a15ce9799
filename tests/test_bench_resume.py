"""`--resume` of the long benchmarks: which earlier rows are kept, and that kept units do not run again."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

import proxymat.benchmarks.examples as bex
import proxymat.benchmarks.mask_fit as bmf
from proxymat.benchmarks.resume import Resume
from proxymat.cli import main
from proxymat.nodes.generators import get_generator
from proxymat.proxy.model import ProxyConfig, build_proxy

ROOT = Path(__file__).resolve().parent.parent
KEY = {"example": "leather", "res": 64, "seed": 0, "settings": {"features": "auto", "polish": 256, "steps": (1, 2)}}


def _rows(key, methods, loss=0.5):
    return [{**json.loads(json.dumps(key)), "method": m, "loss": loss} for m in methods]


def test_kept_returns_one_row_per_method_in_the_requested_order():
    earlier = Resume(tuple(_rows(KEY, ["stage1", "full", "sa"])))
    kept = earlier.kept(KEY, ["full", "stage1"])  # the tuple in KEY matches the list JSON stored
    assert [r["method"] for r in kept] == ["full", "stage1"]
    kept[0]["loss"] = 9.0  # copies: the earlier rows stay as they were
    assert earlier.rows[1]["loss"] == 0.5


@pytest.mark.parametrize("change", [
    {"seed": 1}, {"res": 128}, {"example": "plaster"},
    {"settings": {**KEY["settings"], "polish": 0}},  # a setting the row does not show otherwise
])
def test_kept_refuses_rows_of_other_settings(change):
    earlier = Resume(tuple(_rows(KEY, ["full", "stage1"])))
    assert earlier.kept({**KEY, **change}, ["full", "stage1"]) is None


def test_kept_needs_every_method_and_every_key_field():
    earlier = Resume(tuple(_rows(KEY, ["full"])))
    assert earlier.kept(KEY, ["full", "stage1"]) is None  # the unit reruns whole, so its ratios stay side by side
    assert earlier.kept(KEY, []) is None
    old = [{k: v for k, v in r.items() if k != "settings"} for r in _rows(KEY, ["full"])]  # rows before --resume
    assert Resume(tuple(old)).kept(KEY, ["full"]) is None


def test_load_and_backup(tmp_path):
    path = tmp_path / "rows.json"
    assert Resume.load(path).rows == () and Resume.load(path).backup() is None
    path.write_text(json.dumps(_rows(KEY, ["full"])))
    earlier = Resume.load(path)
    assert len(earlier.rows) == 1
    assert earlier.backup() == tmp_path / "rows.json.bak"
    assert (tmp_path / "rows.json.bak").read_text() == path.read_text()
    for text, message in [("{not json", "cannot resume from"), ('{"a": 1}', "expected a JSON list of rows")]:
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as err:
            Resume.load(path)
        assert str(path) in str(err.value)


def test_resume_needs_json_out_and_a_readable_file(tmp_path, capsys):
    assert main(["bench", "e4", "--resume"]) == 2
    assert "--resume needs --json-out" in capsys.readouterr().err
    bad = tmp_path / "rows.json"
    bad.write_text("[1, 2]")
    assert main(["bench", "examples", "--resume", "--json-out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1


def test_bench_examples_resume_runs_only_the_missing_units(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_run_example(name, methods, res, features, seed, base, figures, log, bars, loss_name):
        calls.append((name, seed))
        key = bex.example_key(name, res, base.seed if seed is None else seed, features, base.polish, "srgb", loss_name)
        return [{**key, "method": m, "loss": 0.1, "loss_init": 0.2, "seconds": 1.0} for m in methods]

    monkeypatch.setattr(bex, "run_example", fake_run_example)
    out = tmp_path / "e3.json"
    argv = ["bench", "examples", "--names", "leather", "plaster", "--seeds", "0", "1", "--res", "64",
            "--json-out", str(out)]
    assert main(argv) == 0
    assert len(calls) == 4
    first = json.loads(out.read_text())
    del calls[:]
    out.write_text(json.dumps([r for r in first if (r["example"], r["seed"]) != ("plaster", 1)][:-1]))  # killed
    assert main(argv + ["--resume"]) == 0
    assert calls == [("leather", 1), ("plaster", 1)]  # leather seed 1 lost a row, plaster seed 1 never ran
    assert json.loads(out.read_text()) == first  # same units in the same order
    assert "kept 2 rows" in capsys.readouterr().err
    del calls[:]
    assert main(argv + ["--resume", "--polish", "3"]) == 0  # other settings: nothing kept
    assert len(calls) == 4
    del calls[:]
    assert main(argv + ["--resume", "--loss", "gram"]) == 0  # another loss variant: nothing kept either
    assert len(calls) == 4


def test_e3_real_script_resumes_too(tmp_path, monkeypatch, capsys):
    script = runpy.run_path(str(ROOT / "bench" / "e3_real.py"))  # its photo list, without running it
    calls = []

    def fake_run_example(label, methods, res, figures, target_path, graph, target_encoding, seed, base, bars,
                         loss_name):
        calls.append(label)
        key = bex.example_key(label, res, base.seed if seed is None else seed, "auto", base.polish, target_encoding,
                              loss_name)
        return [{**key, "method": m, "loss": 0.1, "loss_init": 0.2, "seconds": 1.0} for m in methods]

    monkeypatch.setattr(bex, "run_example", fake_run_example)
    for photo in script["PAIRS"]:
        (tmp_path / photo).write_bytes(b"")  # never read by the fake
    out = tmp_path / "real.json"
    argv = ["e3_real.py", "--photos", str(tmp_path), "--figures-off", "--methods", "full", "stage1",
            "--json-out", str(out), "--target-encoding", "linear"]

    def run(*extra):
        monkeypatch.setattr(sys, "argv", argv + list(extra))
        runpy.run_path(str(ROOT / "bench" / "e3_real.py"), run_name="__main__")

    run()
    first = json.loads(out.read_text())
    assert len(calls) == len(script["PAIRS"]) == len(first) // 2
    out.write_text(json.dumps(first[:3]))
    del calls[:]
    run("--resume")
    assert calls == [r["example"] for r in first[2::2]]  # the first photo kept, the rest run
    assert json.loads(out.read_text()) == first
    assert json.loads((tmp_path / "real.json.bak").read_text()) == first[:3]
    capsys.readouterr()


@pytest.mark.usefixtures("one_thread")
def test_e4_resume_keeps_finished_targets_and_runs_the_rest(monkeypatch):
    spec = get_generator("pptbf_mask_cellular")
    proxy = build_proxy(ProxyConfig(n_params=len(bmf.BoxSpace.of(spec).params), res=32, channels=(16, 16, 8, 8)),
                        seed=3).eval()
    settings = dict(n_targets=2, res=32, budget_s=0.2, methods=("random_search",), steps=2, search=8,
                    proxy_label="test")
    first = bmf.run_mask_fit(spec, proxy, **settings)
    assert {(r["target"], r["settings"]["proxy"]) for r in first} == {(0, "test"), (1, "test")}
    fitted = []
    real_fit = bmf.fit_proxy_adam
    monkeypatch.setattr(bmf, "fit_proxy_adam", lambda space, p, loss, *a, **k: fitted.append(k["n_init"]) or real_fit(
        space, p, loss, *a, **k))
    earlier = Resume(tuple(json.loads(json.dumps(first[:3]))))  # target 1 lost its gradient-free row
    rows = bmf.run_mask_fit(spec, proxy, **settings, kept=earlier.kept)
    assert fitted == [8]  # target 1 only, with --search's starts
    assert rows[:2] == json.loads(json.dumps(first[:2]))
    assert [(r["target"], r["method"]) for r in rows] == [(0, "proxy_adam"), (0, "random_search"),
                                                          (1, "proxy_adam"), (1, "random_search")]
    assert rows[2]["loss"] == pytest.approx(first[2]["loss"])  # the proxy fit is deterministic
    for name, value in (("budget_s", 0.3), ("search", 9)):  # other settings keep nothing
        del fitted[:]
        other = bmf.run_mask_fit(spec, proxy, **{**settings, name: value}, kept=earlier.kept)
        assert len(fitted) == 2
        assert other[0]["settings"] == {**first[0]["settings"], name: value}


@pytest.mark.usefixtures("one_thread")
def test_e4_resume_key_holds_the_direct_settings(monkeypatch):
    spec = get_generator("pptbf_mask_cellular")
    proxy = build_proxy(ProxyConfig(n_params=len(bmf.BoxSpace.of(spec).params), res=32, channels=(16, 16, 8, 8)),
                        seed=3).eval()
    direct_runs = []
    real_direct = bmf.fit_direct_adam
    monkeypatch.setattr(bmf, "fit_direct_adam", lambda *a, **k: direct_runs.append(k["work_res"]) or real_direct(*a, **k))
    settings = dict(n_targets=1, res=32, methods=(bmf.DIRECT,), steps=2, search=4, proxy_label="test", direct_res=16)
    first = bmf.run_mask_fit(spec, proxy, **settings)
    assert first[0]["settings"]["direct"] == {"work_res": 16, "steps": 2, "lr": 0.03, "grid": 0, "random": None}
    earlier = Resume(tuple(json.loads(json.dumps(first))))
    del direct_runs[:]
    again = bmf.run_mask_fit(spec, proxy, **settings, kept=earlier.kept)
    assert direct_runs == [] and again == json.loads(json.dumps(first))  # same settings: kept
    other = bmf.run_mask_fit(spec, proxy, **{**settings, "direct_res": 24}, kept=earlier.kept)
    assert direct_runs == [24]  # another --direct-res runs again instead of reusing the 16 px rows
    assert other[0]["settings"]["direct"]["work_res"] == 24
    plain = bmf.run_mask_fit(spec, proxy, **{**settings, "methods": ("random_search",), "budget_s": 0.2})
    assert "direct" not in plain[0]["settings"]  # runs without a direct method keep their earlier keys

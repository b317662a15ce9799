"""`proxymat bench`: per-benchmark options, tables, --record, early output checks, recorded commands still parse."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

import proxymat
import proxymat.benchmarks.fidelity as fidelity
import proxymat.benchmarks.records as records
import proxymat.benchmarks.speed as speed
import proxymat.cli.bench as bc
from proxymat.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_graph_table():
    row = {"res": 256, "threads": 2, "nodes": 20, "params": 46, "forward_ms": 15.62, "iteration_ms": 32.4}
    assert speed.graph_table([row]).splitlines()[2] == "| 256 | 2 | 20 | 46 | 15.6 | 32.4 |"


def test_generators_table_has_a_column_per_resolution_and_marks_gaps():
    rows = [{"name": "cells", "res": 128, "images_per_s": 2024.0}, {"name": "cells", "res": 256, "images_per_s": 486.5},
            {"name": "clouds", "res": 256, "images_per_s": 301.0}]
    lines = speed.generators_table(rows).splitlines()
    assert lines[0] == "| generator | 128 | 256 |"
    assert lines[1] == "|---|---|---|"
    assert lines[2:] == ["| cells | 2024 | 486.5 |", "| clouds | - | 301 |"]


def test_fidelity_table_judges_the_goal_on_both_metrics():
    base = {"res": 64, "train_steps": 100, "train_hours": 1.234, "gram": 0.01, "flat_l1": 0.2, "flat_ssim": 0.1}
    rows = [{**base, "generator": "a", "l1": 0.05, "ssim": 0.80},  # on the boundary: met
            {**base, "generator": "b", "l1": 0.04, "ssim": 0.79},
            {**base, "generator": "c", "l1": 0.051, "ssim": 0.95, "train_hours": None}]
    lines = fidelity.fidelity_table(rows).splitlines()
    assert lines[2] == "| a | 64 | 100 | 1.23 | 0.050 | 0.80 | 0.010 | - | - | 0.200 | 0.10 | met |"
    assert lines[3].endswith("| not met |") and lines[4].endswith("| not met |")
    assert "| 100 | - |" in lines[4]
    textured = [{**rows[0], "flat_gram": 0.04, "seed_gram": 0.002}, {**rows[0], "generator": "d", "flat_gram": 0.039}]
    lines = fidelity.fidelity_table(textured).splitlines()
    assert lines[2] == "| a | 64 | 100 | 1.23 | 0.050 | 0.80 | 0.010 | 0.25 | 0.002 | 0.200 | 0.10 | met |"
    assert lines[3].endswith("| 0.26 | - | 0.200 | 0.10 | not met |")  # Gram above 0.25 x the flat image's


def test_record_section_quotes_the_command_and_names_the_files():
    text = records.record_section(["bench", "e4", "--figures", "my figs"], "| a |\n|---|", "2 CPU cores", "2026-12-03 10:00 UTC",
                             json_out="rows.json", figures="my figs")
    lines = text.splitlines()
    assert lines[0] == "### `proxymat bench e4 --figures 'my figs'`"
    assert lines[2] == "Recorded 2026-12-03 10:00 UTC on 2 CPU cores."
    assert lines[4:6] == ["| a |", "|---|"]
    assert lines[-1] == "Rows in `rows.json`; images in `my figs/`."
    assert "Rows" not in records.record_section(["bench", "graph"], "| a |", "m", "t")
    script = records.record_section(["python", "bench/e3_real.py", "--only", "IMG_6966"], "| a |", "m", "t", program=None)
    assert script.startswith("### `python bench/e3_real.py --only IMG_6966`\n")


def test_append_record_creates_then_appends_with_one_blank_line(tmp_path):
    path = tmp_path / "sub" / "results.md"
    records.append_record(str(path), "### one\n")
    assert path.read_text() == "### one\n"
    path.write_text("# Results\n\nno newline at the end")
    records.append_record(str(path), "### two\n")
    assert path.read_text() == "# Results\n\nno newline at the end\n\n### two\n"
    records.append_record(str(path), "### three\n")
    assert path.read_text().endswith("### two\n\n### three\n")


def test_bench_graph_records_its_command_table_and_rows(tmp_path, capsys):
    record, rows = tmp_path / "RESULTS.md", tmp_path / "graph.json"
    record.write_text("# Results\n")
    argv = ["bench", "graph", "--res", "16", "--iters", "1", "--threads", "1", "--record", str(record),
            "--json-out", str(rows)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads(rows.read_text())
    assert data[0]["res"] == 16 and data[0]["nodes"] == 20
    text = record.read_text()
    assert text.startswith("# Results\n\n### `proxymat " + shlex.join(argv) + "`\n")
    assert re.search(r"Recorded \d{4}-\d\d-\d\d \d\d:\d\d UTC on \d+ CPU cores .*torch .*1 thread", text)
    assert printed.strip() in text  # the printed table is the recorded one
    assert "| 16 | 1 | 20 |" in text


def test_outputs_are_checked_before_the_run(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(bc, "_run_graph", lambda args, save: ran.append(1) or ([], ""))
    assert main(["bench", "graph", "--json-out", str(tmp_path)]) == 2
    assert main(["bench", "graph", "--record", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--json-out" in err and "--record" in err and "is a folder" in err
    monkeypatch.setattr(bc, "_run_proxies", lambda args, save: ran.append(1) or ([], ""))
    (tmp_path / "file").write_text("")
    assert main(["bench", "proxies", "--figures", str(tmp_path / "file")]) == 2
    assert "--figures" in capsys.readouterr().err
    assert ran == []


@pytest.mark.parametrize("argv, message", [
    (["bench", "proxies", "--names", "nope"], "no shipped proxy for nope"),
    (["bench", "examples", "--names", "nope"], "no bundled example named nope"),
    (["bench", "generators", "--names", "nope"], "unknown generator nope"),
    (["bench", "e4", "--generator", "nope"], "unknown generator nope"),
    (["bench", "e2", "--names", "nope"], "unknown generator nope"),
])
def test_unknown_names_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_e2_checks_every_generators_baselines_before_the_first_fit(tmp_path, monkeypatch, capsys):
    import proxymat.benchmarks.proxy_choice as bpc

    monkeypatch.setattr(bpc, "run_proxy_choice", lambda *a, **k: pytest.fail("fitted before checking clouds"))
    for kind in ("autoencoder", "gan_latent"):  # cells' real baselines; clouds' missing, then not weights
        (tmp_path / f"cells_{kind}.safetensors").symlink_to(ROOT / "bench" / "weights" / f"cells_{kind}.safetensors")
    argv = ["bench", "e2", "--names", "cells", "clouds", "--baselines-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "clouds_autoencoder.safetensors" in capsys.readouterr().err
    for kind in ("autoencoder", "gan_latent"):
        (tmp_path / f"clouds_{kind}.safetensors").write_bytes(b"not weights")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "clouds_autoencoder.safetensors" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["bench", "graph", "--budget", "3"],  # an option of another benchmark
    ["bench", "examples", "--gf-methods", "cma_es"],
    ["bench", "examples", "--methods", "bogus"],
    ["bench", "e4", "--gf-methods", "bogus"],
    ["bench", "e4", "--budget", "0"],
    ["bench", "e4", "--budget", "inf"],
    ["bench", "e4", "--search", "0"],
    ["bench", "e2", "--resume"],  # E2 does not resume
    ["bench", "graph", "--res", "4"],
    ["bench"],
])
def test_the_parser_refuses_options_that_would_be_ignored_or_fail_late(argv):
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(argv)
    assert err.value.code == 2


def _recorded_commands() -> list[tuple[str, str]]:
    """Every `proxymat ...` command quoted in the README and docs/, minus usage lines with placeholders."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for cmd in re.findall(r"`(proxymat [^`]+)`", path.read_text()):
            words = shlex.split(cmd)[1:]
            if any(ch in cmd for ch in "[|") or "--help" in words or any(re.fullmatch(r"[A-Z_]+", w) for w in words):
                continue  # a usage line (GRAPH, [--res N], a|b), not a command
            if len(words) < 3 and words[:1] != ["optimize"]:
                continue  # a command's name in prose, e.g. `proxymat proxy train`
            found.append((path.name, cmd))
    return found


def test_docs_quote_many_commands():
    cmds = _recorded_commands()  # the current docs; docs/history/ keeps the commands of earlier runs as they were
    assert len(cmds) >= 20 and sum("bench e4" in c for _, c in cmds) >= 4
    assert sum(doc == "RESULTS.md" for doc, _ in cmds) >= 10


@pytest.mark.parametrize("doc, cmd", _recorded_commands())
def test_every_recorded_command_still_parses(doc, cmd):
    args = build_parser().parse_args(shlex.split(cmd)[1:])
    assert callable(args.func)


def test_parser_method_lists_match_the_benchmarks():
    """The parser keeps its own copies (it must not import torch); they must not drift."""
    from proxymat.benchmarks.examples import FREE_METHODS, GRADIENT_METHODS
    from proxymat.benchmarks.mask_fit import DIRECT, GRADIENT_FREE, PROXY_DIRECT, PROXY_INIT

    assert bc.EXAMPLE_METHODS == GRADIENT_METHODS + FREE_METHODS
    assert bc.E4_METHODS == GRADIENT_FREE + (PROXY_INIT, DIRECT, PROXY_DIRECT)


def test_examples_progress_goes_to_stderr_and_the_table_to_stdout(monkeypatch, capsys):
    import proxymat.benchmarks.examples as be

    def fake_run_example(name, methods, log=print, **kw):
        log(f"{name}: a row")
        return [{"example": name, "method": m, "loss_init": 0.5, "loss": 0.1, "seconds": 1.0} for m in methods]

    monkeypatch.setattr(be, "run_example", fake_run_example)
    assert main(["bench", "examples", "--names", "plaster", "--methods", "full"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Loss on the render") and "a row" not in out
    assert "plaster: a row" in err


def test_e2_options_reach_the_benchmark(monkeypatch, capsys):
    import proxymat.benchmarks.proxy_choice as bpc

    seen = []
    monkeypatch.setattr(bpc, "run_proxy_choice", lambda name, **kw: seen.append((name, kw)) or [])
    argv = ["bench", "e2", "--names", "cells", "--search", "32", "--pool", "64", "--baselines-dir",
            str(ROOT / "bench" / "weights")]
    assert main(argv) == 0
    assert seen[0][0] == "cells" and seen[0][1]["search"] == 32 and seen[0][1]["pool"] == 64
    assert main(argv[:4] + argv[6:]) == 0 and seen[1][1]["search"] == 1024  # the default: as many as the pool


def test_e4_direct_options_reach_the_benchmark(monkeypatch, capsys):
    import proxymat.benchmarks.mask_fit as bmf
    import proxymat.proxy.quantile_mask as qm

    seen = []
    monkeypatch.setattr(qm, "load_proxy_for", lambda spec, weights=None: type("P", (), {"res": 64})())
    monkeypatch.setattr(bmf, "run_mask_fit", lambda spec, proxy, **kw: seen.append(kw) or [])
    monkeypatch.setattr(bmf, "summarize", lambda rows: "| a |")
    argv = ["bench", "e4", "--gf-methods", "proxy_then_direct", "--direct-res", "128"]
    assert main(argv + ["--direct-steps", "40", "--direct-lr", "0.01", "--direct-grid", "9", "--direct-random", "3"]) == 0
    assert seen[0]["methods"] == ["proxy_then_direct"] and seen[0]["direct_res"] == 128
    assert (seen[0]["direct_steps"], seen[0]["direct_lr"], seen[0]["direct_grid"]) == (40, 0.01, 9)
    assert seen[0]["direct_random"] == 3
    assert main(argv) == 0
    assert (seen[1]["direct_steps"], seen[1]["direct_lr"], seen[1]["direct_grid"], seen[1]["direct_random"]) == (
        None, 0.03, 0, 0)  # the defaults


def test_machine_line_names_the_git_revision_only_of_our_own_checkout(monkeypatch):
    import subprocess

    here = Path(proxymat.__file__).resolve().parent
    if here.parent.name != "src":
        pytest.skip("installed without the src layout of a checkout")
    toplevel = {"ours": str(here.parent.parent), "other": "/somewhere/else"}
    picked = []

    def fake_run(cmd, **kw):
        out = f"{toplevel[picked[-1]]}\nabc1234\n" if "rev-parse" in cmd else " M file\n"
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    picked.append("ours")
    line = records.machine_line(3)
    assert line.endswith(", git abc1234 with local changes") and "3 thread(s)" in line and "CPU cores" in line
    picked.append("other")  # e.g. a virtual environment inside the user's own repository
    assert "git" not in records.machine_line(3)


def test_load_row_files_reads_what_save_rows_wrote_and_names_a_bad_file(tmp_path):
    good, bad = tmp_path / "a.json", tmp_path / "b.json"
    records.save_rows(str(good), [{"target": 0, "loss": 0.5}])
    bad.write_text("{not json")
    assert records.load_row_files([good, good]) == [[{"target": 0, "loss": 0.5}]] * 2
    with pytest.raises(ValueError, match=f"cannot read rows from {bad}"):
        records.load_row_files([good, bad])
    with pytest.raises(ValueError, match="cannot read rows from .*missing.json"):
        records.load_row_files([tmp_path / "missing.json"])

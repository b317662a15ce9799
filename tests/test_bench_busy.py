"""``proxymat bench busy``: a command timed alone and beside spinning processes, which never outlive it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from proxymat.benchmarks import busy
from proxymat.benchmarks.busy import bench_busy, busy_table, optimize_command
from test_robustness import assert_one_line_error, run_cli

WORK = [sys.executable, "-c", "print('threads: 1 of 2 CPU(s)'); sum(range(200000))"]


@pytest.fixture
def spawned(monkeypatch):
    """Every spinning process the benchmark starts."""
    procs: list[subprocess.Popen] = []
    real = subprocess.Popen

    def popen(*args, **kw):
        proc = real(*args, **kw)
        if list(proc.args)[-1] == busy.SPIN:
            procs.append(proc)
        return proc

    monkeypatch.setattr(busy.subprocess, "Popen", popen)
    return procs


def test_a_command_is_timed_alone_and_beside_busy_processes(spawned):
    row = bench_busy(WORK, busy=2)
    assert len(spawned) == 2
    assert all(p.poll() is not None for p in spawned)  # stopped after the run
    assert row["alone_s"] > 0 and row["busy_s"] > 0 and row["ratio"] == pytest.approx(row["busy_s"] / row["alone_s"])
    assert row["busy"] == 2 and row["alone_threads"] == row["busy_threads"] == "threads: 1 of 2 CPU(s)"
    assert row["command"].startswith("-c print(")
    table = busy_table([row]).splitlines()
    assert table[0].startswith("| command | busy processes | alone (s)") and len(table) == 3
    assert f"| {row['ratio']:.2f}x |" in table[2]


def test_a_failing_command_is_an_error_and_stops_the_busy_processes(spawned, tmp_path):
    with pytest.raises(RuntimeError, match=r"the timed command failed \(exit 3\): boom"):
        bench_busy([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
    assert spawned == []  # it failed alone: nothing was started
    flag = tmp_path / "flag"  # the second run finds it and fails, beside the spinner
    second_fails = [sys.executable, "-c", "import sys, pathlib; p = pathlib.Path(sys.argv[1]); "
                    "sys.exit(4) if p.exists() else p.write_text('')", str(flag)]
    with pytest.raises(RuntimeError, match=r"exit 4"):
        bench_busy(second_fails, busy=1)
    assert len(spawned) == 1 and spawned[0].poll() is not None


def test_the_timed_command_is_optimize_as_a_user_runs_it(tmp_path):
    cmd = optimize_command("leather", tmp_path, quick=True, threads=None)
    assert cmd[:4] == [sys.executable, "-m", "proxymat.cli", "optimize"] and "--fresh" in cmd and "--threads" not in cmd
    assert cmd[-len(busy.QUICK):] == list(busy.QUICK)
    assert optimize_command("leather", tmp_path, quick=False, threads=2)[-2:] == ["--threads", "2"]


def test_an_unknown_example_is_a_one_line_error(capsys):
    code, _, err = run_cli(["bench", "busy", "--example", "nope", "--quick"], capsys)
    assert_one_line_error(code, err, "unknown example nope")


@pytest.mark.slow
def test_bench_busy_quick_end_to_end(capsys):
    code, out, err = run_cli(["bench", "busy", "--quick"], capsys)
    assert code == 0, err
    row = out.strip().splitlines()[-1]
    assert row.startswith("| `-m proxymat.cli optimize leather") and "threads:" in row

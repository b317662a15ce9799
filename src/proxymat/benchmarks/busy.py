"""Speed on a busy machine: one command timed alone, then beside busy processes, in one run.

The command (by default ``proxymat optimize`` on the default example, as a user
runs it: a fresh process, so its thread choice is made as on the command line)
runs once on a quiet machine and once while ``busy`` pure-Python loops keep
CPUs busy; the row gives both wall-clock times and their ratio. The loops are
started before the second run and stopped after it, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

SPIN = "while True: pass"
QUICK = ("--res", "64", "--iters", "20", "20", "20", "--samples", "8", "--polish", "16", "--sweep", "2")
"""``optimize`` settings of ``bench busy --quick`` (seconds instead of minutes)."""


def optimize_command(example: str, out: Path, quick: bool, threads: int | None) -> list[str]:
    """The ``proxymat optimize`` command line the benchmark times (``--quiet``, into ``out``)."""
    cmd = [sys.executable, "-m", "proxymat.cli", "optimize", example, "-o", str(out), "--quiet", "--fresh"]
    if quick:
        cmd += QUICK
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall-clock seconds of ``cmd`` and its ``threads:`` log line ("" if none); RuntimeError if it fails."""
    t0 = time.perf_counter()
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the timed command failed (exit {done.returncode}): {last}")
    line = next((s for s in done.stdout.splitlines() if s.startswith("threads:")), "")
    return seconds, line


def bench_busy(cmd: Sequence[str], busy: int = 1, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Time ``cmd`` alone, then beside ``busy`` spinning Python processes: a row with both times,
    ``ratio`` (busy / alone) and each run's thread line."""
    alone, alone_threads = timed(cmd, env)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(busy)]
    try:
        time.sleep(0.5)  # let them get going
        beside, beside_threads = timed(cmd, env)
    finally:
        for proc in spinners:
            proc.kill()
        for proc in spinners:
            proc.wait()
    return {"command": " ".join(cmd[1:] if cmd[:1] == [sys.executable] else cmd), "busy": busy,
            "alone_s": alone, "busy_s": beside, "ratio": beside / alone, "cpus": os.cpu_count(),
            "alone_threads": alone_threads, "busy_threads": beside_threads}


def busy_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`bench_busy` rows."""
    lines = ["| command | busy processes | alone (s) | beside them (s) | ratio | threads alone | threads beside |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['command']}` | {r['busy']} | {r['alone_s']:.1f} | {r['busy_s']:.1f} | {r['ratio']:.2f}x | "
                     f"{r['alone_threads'] or '-'} | {r['busy_threads'] or '-'} |")
    return "\n".join(lines)


def bench_busy_optimize(example: str, quick: bool, busy: int, threads: int | None) -> dict[str, Any]:
    """:func:`bench_busy` of ``proxymat optimize EXAMPLE`` into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="proxymat-busy-") as tmp:
        return bench_busy(optimize_command(example, Path(tmp) / "out", quick, threads), busy)

"""Benchmark rows and records: rows saved as JSON, tables appended to a markdown file.

``--json-out`` files hold a list of row dicts; ``--record FILE`` appends a
section with the exact command, the date, the machine and the table.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..atomic import atomic_write_text

Rows = list[dict[str, Any]]


def save_rows(path: str | None, rows: Rows) -> None:
    """All rows so far to ``path`` (if given), atomically."""
    if path:
        atomic_write_text(Path(path), json.dumps(rows, indent=1) + "\n")


def load_row_files(paths: Sequence[str | Path]) -> list[Rows]:
    """The rows of each ``--json-out`` file in ``paths``; ValueError naming the first unreadable one."""
    out: list[Rows] = []
    for path in paths:
        try:
            out.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read rows from {path}: {err}") from err
    return out


def machine_line(threads: int | None) -> str:
    """Where a result was measured: cores, torch version, threads, proxymat version and git revision."""
    import torch

    from .. import __version__

    line = (f"{os.cpu_count()} CPU cores ({_cpu_model() or platform.machine()}), torch {torch.__version__}, "
            f"{threads or torch.get_num_threads()} thread(s), proxymat {__version__}")
    here = Path(__file__).resolve().parents[1]  # the package folder, src/proxymat in a checkout
    try:
        rev = subprocess.run(["git", "rev-parse", "--show-toplevel", "--short", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return line
    found = rev.stdout.split() if rev.returncode == 0 else []
    if len(found) == 2 and Path(found[0]).resolve() / "src" / "proxymat" == here:  # our checkout, not one around a venv
        line += f", git {found[1]}" + (" with local changes" if dirty.stdout.strip() else "")
    return line


def _cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        return None


def record_section(command: Sequence[str], table: str, machine: str, when: str, json_out: str | None = None,
                   figures: str | None = None, program: str | None = "proxymat") -> str:
    """The markdown section ``--record`` appends: the command as a heading, where and when, the table, the files.

    ``command`` is the argument list after ``program`` (``None``: ``command`` is the whole command line).
    """
    files = [f"rows in `{json_out}`" if json_out else "", f"images in `{figures}/`" if figures else ""]
    files_line = "; ".join(f for f in files if f)
    line = shlex.join([program, *command] if program else command)
    return (f"### `{line}`\n\nRecorded {when} on {machine}.\n\n{table}\n"
            + (f"\n{files_line[0].upper()}{files_line[1:]}.\n" if files_line else ""))


def append_record(path: str, section: str) -> None:
    """Append ``section`` to the markdown file ``path`` (created if missing), atomically."""
    p = Path(path)
    old = p.read_text(encoding="utf-8") if p.exists() else ""
    sep = "" if not old else ("\n" if old.endswith("\n") else "\n\n")
    atomic_write_text(p, old + sep + section)


def record_run(path: str, command: Sequence[str], table: str, threads: int | None, json_out: str | None = None,
               figures: str | None = None, program: str | None = "proxymat") -> None:
    """Append ``table`` to the markdown file ``path`` under ``command``, now and this machine (``--record``)."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    append_record(path, record_section(command, table, machine_line(threads), when, json_out, figures, program))

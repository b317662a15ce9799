"""Resuming a long benchmark from its own ``--json-out`` file: finished units are kept, the rest run.

A *unit* is what a benchmark measures side by side in one go: one example at one
seed in E3, one target in E4. Keeping or re-running whole units keeps every
ratio of a resumed table a ratio of methods that ran together. A unit is kept
only when, for every requested method, an earlier row matches every field of
the unit's key, the run's settings included; otherwise it runs again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

Rows = list[dict[str, Any]]
_MISSING = object()


@dataclass(frozen=True)
class Resume:
    """The rows of an earlier run of the same benchmark (none: nothing to keep)."""

    rows: tuple[dict[str, Any], ...] = ()
    path: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Resume":
        """The rows in ``path``; none when it does not exist yet; ValueError naming it when it is unreadable."""
        p = Path(path)
        if not p.exists():
            return cls((), str(path))
        try:
            rows = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot resume from {path}: {err}") from err
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"cannot resume from {path}: expected a JSON list of rows (objects), as --json-out writes")
        return cls(tuple(rows), str(path))

    def kept(self, key: Mapping[str, Any], methods: Sequence[str]) -> Rows | None:
        """The earlier rows of the unit ``key``, one per method in the order of ``methods``, when every
        method has one (copies; the first match wins); else None."""
        want = json.loads(json.dumps(dict(key)))  # compare as the rows were stored: tuples as lists
        found: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            if all(row.get(k, _MISSING) == v for k, v in want.items()):
                found.setdefault(row.get("method"), row)
        if not methods or any(m not in found for m in methods):
            return None
        return [dict(found[m]) for m in methods]

    def take(self, key: Mapping[str, Any], methods: Sequence[str], unit: str,
             say: Callable[[str], None]) -> Rows | None:
        """:meth:`kept`, and when there are such rows, ``say`` that the ``unit`` was kept."""
        kept = self.kept(key, methods)
        if kept:
            say(f"{unit}: kept {len(kept)} rows of {self.path} (--resume)")
        return kept

    def backup(self) -> Path | None:
        """Copy the earlier file to ``<path>.bak`` before the run overwrites it (rows of units this run
        does not keep would otherwise be lost); the copy's path, or None when there was no file."""
        if self.path is None or not Path(self.path).exists():
            return None
        dest = Path(self.path + ".bak")
        shutil.copy2(self.path, dest)
        return dest


def open_resume(json_out: str | None, resume: bool, say: Callable[[str], None]) -> Resume:
    """What ``--resume`` keeps: the rows already in ``json_out``, copied to ``FILE.bak`` first (and
    said); nothing when ``resume`` is false. ValueError without ``json_out`` or with an unreadable file."""
    if not resume:
        return Resume()
    if not json_out:
        raise ValueError("--resume needs --json-out FILE: the rows of the run to resume")
    earlier = Resume.load(json_out)
    backup = earlier.backup()
    if backup:
        say(f"resuming from {json_out} ({len(earlier.rows)} rows; copied to {backup})")
    return earlier

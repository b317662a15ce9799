"""Paired comparison of two sets of benchmark rows, case by case, with a bootstrap interval.

The optimization pipeline is chaotic: a change in the last bits of one sum (a faster
but reordered patch statistic) moved one recovery case's parameter error from 0.024
to 0.061 and the 24-case mean from 0.062 to 0.069. A difference between two variants'
means says little without its spread, so :func:`paired` matches the rows of two runs
by case, takes each case's difference and resamples the cases (a percentile bootstrap)
for an interval of the mean difference. An interval that holds 0 is no evidence
either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

CASE_FIELDS: tuple[str, ...] = ("example", "case", "res", "from_truth")
"""Row fields that name a case: rows of two runs with equal values are the same case."""
RECOVERY_FIELDS: tuple[str, ...] = ("gen_error", "closer", "loss", "patch_swd", "lab_distance")
"""The recovery benchmark's fields that ``bench compare`` and its summary compare by default."""


@dataclass(frozen=True)
class Paired:
    """The paired comparison of one field: ``b - a`` over ``n`` matched cases."""

    field: str
    n: int
    mean_a: float
    mean_b: float
    diff: float  # mean of b - a
    low: float  # the interval of ``diff`` (``level`` percentile bootstrap)
    high: float
    lower: int  # cases where b < a
    higher: int  # cases where b > a
    level: float

    def row(self, a: str, b: str) -> str:
        """A markdown table row: field, cases, both means, the difference and its interval, who wins where."""
        return (f"| {self.field} | {self.n} | {self.mean_a:.4g} | {self.mean_b:.4g} | {self.diff:+.4g} "
                f"| {self.low:+.4g} .. {self.high:+.4g} | {self.lower} / {self.higher} |")


def case_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The case a row belongs to (:data:`CASE_FIELDS`; a missing field counts as empty)."""
    return tuple(row.get(f, "") for f in CASE_FIELDS)


def match(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """The rows of ``a`` and ``b`` of the same case, in ``a``'s order. Raises ``ValueError`` when a run holds
    one case twice (several methods in one file: pick one first) or the two share no case."""
    for rows, name in ((a, "first"), (b, "second")):
        keys = [case_key(r) for r in rows]
        if len(set(keys)) != len(keys):
            raise ValueError(f"the {name} set of rows holds a case more than once (several methods? choose one)")
    index = {case_key(r): r for r in b}
    pairs = [(r, index[key]) for r in a if (key := case_key(r)) in index]
    if not pairs:
        raise ValueError("the two sets of rows share no case (example, case, res, from_truth)")
    return pairs


def paired(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], field: str, level: float = 0.9,
           resamples: int = 4000, seed: int = 0) -> Paired:
    """:class:`Paired` of ``field`` over matched ``pairs`` (:func:`match`): the mean difference ``b - a`` and
    its ``level`` percentile-bootstrap interval over ``resamples`` resamplings of the cases (seeded, so the
    interval repeats). Raises ``ValueError`` for a row without ``field``, a value that is not a finite number or
    a ``level`` outside (0, 1)."""
    import numpy as np

    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval's level must be between 0 and 1, got {level}")
    try:
        x = np.array([[float(ra[field]), float(rb[field])] for ra, rb in pairs], dtype=np.float64)
    except KeyError:
        raise ValueError(f"a row has no field {field!r}") from None
    except (TypeError, ValueError):
        raise ValueError(f"field {field!r} is not a number in every row") from None
    if not np.isfinite(x).all():
        raise ValueError(f"field {field!r} is not finite in every row")
    d = x[:, 1] - x[:, 0]
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Paired(field, len(d), float(x[:, 0].mean()), float(x[:, 1].mean()), float(d.mean()), float(low),
                  float(high), int((d < 0).sum()), int((d > 0).sum()), level)


def shared_fields(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], fields: Sequence[str]) -> list[str]:
    """Those of ``fields`` that both rows of every pair have, in order."""
    return [f for f in fields if all(f in ra and f in rb for ra, rb in pairs)]


def table(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], fields: Sequence[str], a: str, b: str,
          level: float = 0.9) -> str:
    """Markdown table of :func:`paired` for each of ``fields`` (those every row has), ``a`` and ``b`` naming the runs."""
    present = shared_fields(pairs, fields)
    lines = [f"| field | cases | {a} | {b} | difference ({b} - {a}) | {100 * level:.0f} % interval | "
             f"{b} lower / higher |", "|---|---|---|---|---|---|---|"]
    lines += [paired(pairs, f, level).row(a, b) for f in present]
    return "\n".join(lines)

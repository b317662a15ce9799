"""Markdown table of E3 rows (``--json-out`` files of ``proxymat bench examples`` / ``bench/e3_real.py``).

One line per (target, seed), one column per method; bold marks the lowest loss among ``full`` and
the baselines (ablations such as ``no_refit`` are shown but do not compete). Later files win
where two hold the same (target, seed, method). Prints the table, then the counts behind
"full is the lowest method on most seeds of N targets".

Example: ``.venv/bin/python bench/e3_table.py docs/history/e3_session16_s*_128.json --methods full no_refit sa``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proxymat.benchmarks.records import load_row_files
from proxymat.benchmarks.examples import seed_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--methods", nargs="+", default=["full", "sa"])
    args = ap.parse_args()
    try:
        rows = [r for rows in load_row_files(args.files) for r in rows]
    except ValueError as err:
        ap.error(str(err))
    text, wins = seed_table(rows, args.methods)
    print(text)
    most = sorted(e for e, w in wins.items() if sum(w) * 2 > len(w))
    runs = sum(sum(w) for w in wins.values())
    total = sum(len(w) for w in wins.values())
    print(f"\nfull lowest on most seeds of {len(most)} of {len(wins)} targets ({', '.join(most)}); in {runs} of {total} runs")


if __name__ == "__main__":
    main()

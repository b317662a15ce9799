"""Table and loss-against-time figure of E4 rows (``proxymat bench e4 --json-out`` files).

Several files of the same targets (e.g. one run per gradient-free method, each with its own
proxy + Adam row) are merged, each (target, method) once. Prints the markdown table of
``proxymat bench e4``; with ``--figure``, draws each method's best loss against seconds.

Example: ``.venv/bin/python bench/e4_curves.py runs/e4_cma_es.json runs/e4_powell_bo.json --figure docs/figures/e4_curves.png``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proxymat.benchmarks.records import load_row_files
from proxymat.benchmarks.mask_fit import merge_rows, summarize, write_curves


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--figure", type=Path, help="PNG to draw the loss-against-time panels into")
    args = ap.parse_args(argv)
    try:
        rows = merge_rows(*load_row_files(args.files))
    except ValueError as err:
        ap.error(str(err))
    print(summarize(rows))
    if args.figure:
        try:
            print(f"figure: {write_curves(rows, args.figure)}")
        except ValueError as err:
            ap.error(str(err))


if __name__ == "__main__":
    main()

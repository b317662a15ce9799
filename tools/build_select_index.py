"""Build the shipped selection index of the library graphs (rerun after changing any graph).

    .venv/bin/python tools/build_select_index.py [--samples 256] [--seed 0] [-o FILE]

Writes src/proxymat/library/select_index.safetensors (or the examples' while
there is no library): for every graph, ``--samples`` random draws of its free
parameters and graph seed, rendered at 128 px and reduced to descriptors
(proxymat.descriptors), the metric fitted to them all, and the SHA-256 of
each graph file, so `proxymat fit` can tell a stale index and a test fails
until the index is rebuilt (tests/test_select_shipped.py). A few minutes on
one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from proxymat.select_index import SAMPLES, build_index, default_index_path, library_entries, save_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=SAMPLES, help=f"random draws per graph (default {SAMPLES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument("-o", "--output", help="index file (default: the shipped one)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    entries = library_entries()
    index = build_index(entries, args.samples, args.seed, log=print)
    path = save_index(index, Path(args.output) if args.output else default_index_path())
    print(f"{path}: {len(entries)} graphs, {args.samples} samples each, in {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()

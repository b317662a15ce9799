"""The count search side by side: recovery cases fitted without and with it (docs/figures/count_search.png).

Usage: .venv/bin/python tools/count_search_figure.py [--out docs/figures/count_search.png] [CASE ...]
where CASE is EXAMPLE:K, a drawn case of ``proxymat bench recovery`` (default: bricks:1 bricks:2
ceramic_tiles:1 pavement:0). Each row shows the target (the truth at a held-out layout), the start, the
default pipeline with ``--count-search 0`` and with the default count search, each with its loss and
generator-parameter error. One thread, 128 px; about a minute per fit.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from PIL import Image

from proxymat.benchmarks.recovery import run_case
from proxymat.optimize.config import OptimizeConfig, config_default
from proxymat.plots import comparison, save_panels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=["bricks:1", "bricks:2", "ceramic_tiles:1", "pavement:0"])
    ap.add_argument("--out", default="docs/figures/count_search.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    panels = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            name, k = case.split(":")
            shown, notes = {}, {}
            for label, n in (("count search off", 0), ("count search on", config_default("count_search"))):
                row, images = run_case(name, int(k), "default", 128, OptimizeConfig(count_search=n))
                shown.setdefault(f"{case} target", images["target"])
                shown.setdefault("start", images["start"])
                notes.setdefault("start", f"error {row['gen_error_start']:.3f}")
                shown[label] = images["default"]
                notes[label] = f"loss {row['loss']:.4f}, error {row['gen_error']:.3f}"
                print(case, label, notes[label], flush=True)
            path = comparison(shown, Path(tmp) / f"{name}_{k}.png", notes)
            panels.append(Image.open(path).convert("RGB"))
        save_panels(panels, Path(args.out), cols=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

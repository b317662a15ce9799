"""E3 on the real flash photographs of ../shared/targets/real (not shipped: MIT, Deschaintre et al. 2018).

Each photo is paired with the bundled example graph of its material and every
method starts from that graph. Run from the repository root:

    .venv/bin/python bench/e3_real.py [--res 128] [--photos DIR] [--json-out FILE [--resume]] [--seeds 1 2] [--figures DIR] [--polish N] [--only IMG_6966] [--record FILE.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from proxymat.benchmarks.records import record_run, save_rows
from proxymat.benchmarks.examples import example_key, run_example, summarize
from proxymat.benchmarks.resume import open_resume
from proxymat.examples import resolve_graph
from proxymat.optimize.loss_config import LOSS_NAMES
from proxymat.optimize.stages import OptimizeConfig

PAIRS = {
    "IMG_20180114_223844.png": "plaster",
    "IMG_20180115_135633.png": "scratched_metal",
    "IMG_6966.png": "leather",
    "IMG_20180115_135508.png": "stone",
    "IMG_20180105_114506.png": "stone",
}


def default_photos() -> Path:
    """../shared/targets/real beside the working directory (the repository root), else beside this script's
    repository (so that a copy of bench/ run from the repository root finds them too)."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        folder = root.parent / "shared" / "targets" / "real"
        if folder.is_dir():
            return folder
    return Path.cwd().parent / "shared" / "targets" / "real"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--photos", default=None,
                    help="folder of the photos (default: ../shared/targets/real beside the repository)")
    ap.add_argument("--methods", nargs="*", default=["full", "stage1", "no_search", "no_stage3", "cma", "sa", "powell"])
    ap.add_argument("--figures", default=None, metavar="DIR",
                    help="write each photo's comparison images here (default: none; docs/figures/hand_paired holds the "
                         "hand-paired reference panels that 'bench select --real' scores: the default loss's full "
                         "fits, --methods full, re-drawn there when the default changes)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="repeat with these optimization seeds")
    ap.add_argument("--figures-off", action="store_true", help="write no images (the default; overrides --figures)")
    ap.add_argument("--target-encoding", choices=("srgb", "linear"), default="srgb",
                    help="linear: gamma-encode the photos (stored roughly linear) like the renders")
    ap.add_argument("--only", nargs="*", default=None, metavar="STEM",
                    help="run only these photos (file names without extension, e.g. IMG_6966)")
    ap.add_argument("--polish", type=int, default=None, metavar="N",
                    help="polish budget (real renders) of the pipeline's methods (default: optimize's)")
    ap.add_argument("--loss", default="default", choices=LOSS_NAMES, help="the material loss variant (default: default)")
    ap.add_argument("--record", default=None, metavar="FILE",
                    help="append the table, the command line and the machine to this markdown file")
    ap.add_argument("--resume", action="store_true",
                    help="keep the photos (at a seed) already in --json-out with these settings and methods, run "
                         "the rest (the earlier file is copied to FILE.bak first)")
    args = ap.parse_args()
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        earlier = open_resume(args.json_out, args.resume, say)
    except ValueError as err:
        ap.error(str(err))
    unknown = sorted(set(args.only or ()) - {Path(photo).stem for photo in PAIRS})
    if unknown:
        ap.error(f"--only: no photo named {', '.join(unknown)} (known: {', '.join(Path(ph).stem for ph in PAIRS)})")
    photos = Path(args.photos) if args.photos else default_photos()
    missing = [photo for photo in PAIRS if not (photos / photo).is_file()]
    if missing:
        ap.error(f"{photos} lacks {', '.join(missing)}; point --photos at the folder of ../shared/targets/real")
    base = OptimizeConfig() if args.polish is None else OptimizeConfig(polish=args.polish)
    torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds or [None]:
        for photo, graph_name in PAIRS.items():
            if args.only is not None and Path(photo).stem not in args.only:
                continue
            label = f"real_{Path(photo).stem}_{graph_name}" + ("_lin" if args.target_encoding == "linear" else "")
            key = example_key(label, args.res, base.seed if seed is None else seed, "auto", base.polish,
                              args.target_encoding, args.loss)
            kept = earlier.take(key, args.methods, f"{label}, seed {key['seed']}", say)
            rows += kept or run_example(label, args.methods, res=args.res,
                                        figures=None if args.figures_off or not args.figures else Path(args.figures),
                                        target_path=photos / photo, graph=resolve_graph(graph_name),
                                        target_encoding=args.target_encoding, seed=seed, base=base,
                                        loss_name=args.loss,
                                        bars=sys.stderr.isatty())
            save_rows(args.json_out, rows)  # after every photo, so that a killed run keeps its rows
    table = summarize(rows)
    print(table)
    if args.record:
        record_run(args.record, ["python", "bench/e3_real.py", *sys.argv[1:]], table, args.threads, args.json_out,
                   None if args.figures_off else args.figures, program=None)


if __name__ == "__main__":
    main()

"""``proxymat fit PHOTO``: pick library graphs for a photo, fit the best few, keep the best."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..allocator import retain_freed_memory
from ..optimize.config import QUALITY
from ..optimize.loss_config import LOSS_NAMES
from ..resolution import OPTIMIZE_RES
from .common import CliError, add_plugin_argument, non_negative_int, positive_int, proxy_files, torch_device

QUALITY_USE = {"fast": "one short pipeline run on the nearest graph",
               "default": "one full fit of the nearest graph (within 10 min at 256 px on 2 cores)",
               "best": "three longer full fits, the best kept (patch SWD for a photo unlike the library's samples, else the loss)"}


def _check_output(out: Path) -> None:
    """CliError unless ``out`` can be written (it is created only by the final writes)."""
    probe_dir = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if out.exists() and not out.is_dir():
        raise CliError(f"output folder {out} is a file")
    try:
        probe = probe_dir / ".proxymat-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise CliError(f"cannot write to output folder {out}: {err.strerror or err}") from None


def run_fit(args: argparse.Namespace) -> int:
    retain_freed_memory()  # the optimizer frees and reallocates the same large tensors every step
    import torch

    from .. import __version__
    from ..optimize.loss import describe, encode_like_render
    from ..optimize.proxies import load_graph_proxies
    from ..photo_fit import (find_graph, fit_graph, fit_photo, fit_plan, load_entries, open_index, pipeline_config,
                             write_candidates)
    from ..preprocess import prepare_photo
    from ..report import write_report
    from ..select_index import default_index_path, library_entries

    t0 = time.perf_counter()
    extra = proxy_files(args.proxy)
    if extra and not args.graph:
        raise CliError("--proxy needs --graph (the library graphs use the shipped proxies)")
    device = torch_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = pipeline_config(args.quality, args.seed, args.res, args.loss)
    plan = fit_plan(args.quality, top_k=args.top_k, shortlist=args.shortlist)
    out = Path(args.output)
    _check_output(out)
    photo = prepare_photo(args.photo, config.res, linear=True if args.linear else None)
    for step in photo.steps:
        print(f"photo: {step}")
    target = encode_like_render(photo.image, photo.encoding).to(device)
    entries = library_entries()
    bars = not args.quiet and sys.stderr.isatty()  # no bars in logs and pipes

    def proxies_for(graph: Any) -> dict:
        return load_graph_proxies(graph, extra, device=device, log=lambda s: None)

    if args.graph:
        graph = find_graph(args.graph, entries)
        graph.res = config.res
        print(f"fitting {graph.name!r} ({len(graph.nodes)} nodes) at {config.res}px (--graph: no selection)")
        fit = fit_graph(target, graph, config, progress=bars, device=device, proxies=proxies_for(graph))
    else:
        load_entries(entries)  # a graph that fails to load is an error before any work
        index_path = Path(args.index) if args.index else default_index_path()
        index = open_index(entries, index_path, plan, print)
        fit = fit_photo(target, entries, index, config, plan, log=print, progress=bars, device=device,
                        proxies_for=proxies_for)
    run, result = fit.run, fit.result
    settings: dict[str, Any] = {
        "command": shlex.join(["proxymat", *getattr(args, "argv", sys.argv[1:])]), "version": __version__,
        "graph": fit.winner.name, "target": str(args.photo), "target_encoding": photo.encoding,
        "preprocessing": photo.steps, "quality": args.quality, "selection": asdict(plan),
        "loss_description": describe(replace(run.loss.config, scales=run.loss.scales), run.loss.features), **asdict(config)}
    out.mkdir(parents=True, exist_ok=True)
    rows = write_candidates(out, fit) if not args.graph else []
    paths = write_report(out, result, target.cpu(), settings, candidates=rows)
    print(f"chose {fit.winner.name!r}: final loss {result.loss_final:.4f}; {time.perf_counter() - t0:.0f}s in all; "
          f"report: {paths['report']}")
    return 0


def register(sub: Any) -> None:
    """Add ``fit`` to an argparse sub-parser collection."""
    p = sub.add_parser("fit", help="fit a photo: pick the closest library graphs, fit the best few, keep the best")
    p.add_argument("photo", help="photo of a material (any format Pillow reads, PNG 16-bit, EXR); any size, "
                                 "centre-cropped to a square")
    p.add_argument("-o", "--output", default="out/fit", help="output folder (default out/fit)")
    p.add_argument("--graph", metavar="NAME|FILE",
                   help="fit this library graph, example or graph file, without selection (like proxymat optimize)")
    presets = "; ".join(f"{q}: {QUALITY_USE[q]}" for q in QUALITY)
    p.add_argument("--quality", choices=tuple(QUALITY), default="default",
                   help=f"preset of the selection and of the pipeline (optimize --quality's settings): {presets}")
    p.add_argument("--linear", action="store_true",
                   help="the photo holds linear values (raw/linear captures): gamma-encode it like the renders "
                        "(default: sRGB for 8/16-bit files, linear for float files)")
    p.add_argument("--res", type=int, default=None, choices=OPTIMIZE_RES.choices(),
                   help="working resolution in pixels (default: the --quality preset's)")
    p.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                   help="graphs that get the full pipeline, the best kept: lowest final patch SWD for an unfamiliar photo, else lowest loss (default: the preset's, 1 for default)")
    p.add_argument("--shortlist", type=positive_int, default=None, metavar="N",
                   help="graphs nearest by descriptor that get a short low-resolution fit (default: the preset's, 3)")
    p.add_argument("--proxy", action="append", metavar="GENERATOR=FILE",
                   help="with --graph: use this proxy weights file for a generator (e.g. one trained for a plugin)")
    p.add_argument("--loss", default="default", choices=LOSS_NAMES, metavar="LOSS",
                   help=f"the material loss's terms, for the short fits and the full ones (default: default; any of: "
                        f"{', '.join(LOSS_NAMES)})")
    p.add_argument("--index", metavar="FILE", help="selection index file (default: the one shipped with the library)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the optimizer's random draws (default 0)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_plugin_argument(p)
    p.set_defaults(func=run_fit)

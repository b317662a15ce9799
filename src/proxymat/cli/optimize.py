"""``proxymat optimize``: fit a graph to a target photo and write a report."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..allocator import retain_freed_memory
from ..optimize.config import QUALITY, config_default
from ..optimize.loss_config import LOSS_NAMES
from ..resolution import OPTIMIZE_RES
from .common import CliError, add_plugin_argument, at_least_one, choose_threads, fraction, non_negative_int, positive_int, torch_device
from .pipeline_options import add_pipeline_options, pipeline_settings


def _target_path(args: argparse.Namespace) -> Path:
    from ..examples import DEFAULT_EXAMPLE, example_target_path

    if args.target:
        return Path(args.target)
    name = args.graph or DEFAULT_EXAMPLE
    path = example_target_path(name)
    if path is None:
        raise CliError(f"--target is required (no bundled target for {name!r})")
    return path


PRESET_FLAGS = {"res": "--res", "iters1": "--iters", "samples": "--samples", "rescore": "--rescore",
                "polish": "--polish", "stage2_patience": "--stage2-patience", "sweep_iters": "--sweep",
                "search_refit": "--search-refit"}
"""The flag that sets each :data:`~proxymat.optimize.config.QUALITY` field (``--iters`` sets all three stages)."""

QUALITY_USE = {"fast": "a quick look", "default": "the defaults", "best": "longer searches and fits"}

_PRESET_ARGS = {"res": "res", "samples": "samples", "rescore": "rescore", "polish": "polish",
                "stage2_patience": "stage2_patience", "sweep_iters": "sweep", "search_refit": "search_refit"}


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~proxymat.optimize.config.OptimizeConfig` that ``proxymat optimize``'s options ask for:
    the ``--quality`` preset (default: ``default``, today's defaults), then every flag given explicitly."""
    from ..optimize.config import OptimizeConfig, quality_settings
    from ..optimize.loss_config import material_loss_config

    preset = quality_settings(getattr(args, "quality", None) or "default")
    chosen = {name: preset[name] if getattr(args, arg) is None else getattr(args, arg) for name, arg in _PRESET_ARGS.items()}
    if args.iters:
        chosen.update(iters1=args.iters[0], iters2=args.iters[1], iters3=args.iters[2])
    else:
        chosen.update(iters1=preset["iters1"], iters2=preset["iters2"], iters3=preset["iters3"])
    return OptimizeConfig(
        **chosen, seed=args.seed, local_fraction=args.local_fraction, polish_filters=args.polish_filters,
        polish_grow=args.polish_grow, stage2_check=args.stage2_check, search_refit_iters=args.search_refit_iters,
        stage1=not args.no_stage1, stage2=not args.no_stage2, random_search=not args.no_random_search,
        stage3=not args.no_stage3, **pipeline_settings(args),
        loss=material_loss_config(chosen["res"], args.features, getattr(args, "loss", None) or "default"),
    )


def quality_help() -> str:
    """``--quality``'s help: what each preset sets, as the flags that would set it."""
    from ..optimize.config import QUALITY, quality_settings

    def flags(quality: str) -> str:
        got = quality_settings(quality)
        parts = []
        for name, flag in PRESET_FLAGS.items():
            if name == "iters1":
                parts.append(f"{flag} {got['iters1']} {got['iters2']} {got['iters3']}")
            else:
                parts.append(f"{flag} {got[name]}")
        return " ".join(parts)

    presets = "; ".join(f"{quality} ({QUALITY_USE[quality]}): {flags(quality)}" for quality in QUALITY)
    return f"preset of the settings below; a flag given explicitly overrides its preset value. {presets}"


def run_optimize(args: argparse.Namespace) -> int:
    choose_threads(args, spin_when_idle=True)  # before torch is imported
    retain_freed_memory()  # the optimizer frees and reallocates the same large tensors every step
    import torch

    from ..examples import DEFAULT_EXAMPLE, resolve_graph
    from .. import __version__
    from ..optimize.checkpoint import CheckpointError, TargetId
    from ..optimize.loss import describe, encode_like_render
    from ..report import write_report
    from ..optimize.proxies import load_graph_proxies
    from ..optimize.stages import Optimization
    from ..target import read_target

    device = torch_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    graph = resolve_graph(args.graph or DEFAULT_EXAMPLE)
    target_path = _target_path(args)
    config = config_from_args(args)
    photo = read_target(target_path, config.res)
    encoding = args.target_encoding or photo.default_encoding
    print(f"target {target_path}: {photo.describe()}; encoding {encoding} "
          + ("(--target-encoding)" if args.target_encoding else
             f"({'a float format: linear values' if photo.info.linear else 'an 8/16-bit format'}; "
             f"--target-encoding {'srgb' if encoding == 'linear' else 'linear'} to override)"))
    target = encode_like_render(photo.image, encoding).to(device)
    bad = [item for item in args.proxy or [] if item.startswith("=") or item.endswith("=")]
    if bad:
        raise CliError(f"--proxy expects GENERATOR or GENERATOR=FILE, got {bad[0]!r}")
    # A bare GENERATOR asks for the shipped proxy, even one recorded as no better than a flat image.
    extra = dict(item.split("=", 1) if "=" in item else (item, item) for item in (args.proxy or []))
    proxies = load_graph_proxies(graph, extra, device=device, skip=args.no_proxy or ())
    out = Path(args.output)
    try:
        bars = not args.quiet and sys.stderr.isatty()  # no bars in logs and pipes
        run = Optimization(graph, target, config, proxies=proxies, out_dir=out, progress=bars, device=device,
                           target_id=TargetId(photo.digest, target_path.name, encoding))
    except ValueError as err:  # e.g. unreadable --features weights
        raise CliError(str(err)) from None
    try:
        run.load_checkpoint(fresh=args.fresh)
    except CheckpointError as err:
        raise CliError(f"{err}; use --fresh to start over (or another -o folder)") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".proxymat-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise CliError(f"cannot write to output folder {out}: {err.strerror or err}") from None
    print(f"optimizing {graph.name!r} ({len(graph.nodes)} nodes) to {target_path} at {config.res}px; "
          f"proxies: {', '.join(sorted(proxies)) or 'none'}")
    result = run.run()
    settings: dict[str, Any] = {
        "command": shlex.join(["proxymat", *getattr(args, "argv", sys.argv[1:])]), "version": __version__,
        "graph": args.graph or DEFAULT_EXAMPLE, "target": str(target_path), "target_encoding": encoding,
        "loss_description": describe(replace(run.loss.config, scales=run.loss.scales), run.loss.features), **asdict(config)}
    paths = write_report(out, result, target.cpu(), settings)
    print(f"final loss {result.loss_final:.4f} in {result.seconds:.1f}s; {score_line(paths['summary'])}; "
          f"report: {paths['report']}")
    return 0


def score_line(summary_path: Path) -> str:
    """The field's scores of a run, start -> final, from its summary.json (patch SWD, Lab distance)."""
    scores = json.loads(summary_path.read_text(encoding="utf-8"))["scores"]
    start, final = scores["start"], scores["final"]
    return (f"patch SWD {start['patch_swd']:.1f} -> {final['patch_swd']:.1f}, "
            f"Lab distance {start['lab_distance']:.1f} -> {final['lab_distance']:.1f}")


def register(sub: Any) -> None:
    """Add ``optimize`` to an argparse sub-parser collection."""
    # Defaults come from OptimizeConfig (torch-free module); those a --quality preset sets are None here,
    # so that config_from_args can tell an explicit flag from the preset.
    p = sub.add_parser("optimize", help="fit a graph's parameters to a target photo (Stages I-III)")
    p.add_argument("graph", nargs="?", help="graph JSON file, bundled example name or library material name (default: the bundled default example)")
    p.add_argument("--target", help="target image (PNG/JPEG/EXR); default: the example's bundled target")
    p.add_argument("-o", "--output", default="out/optimize", help="output folder (default out/optimize)")
    p.add_argument("--quality", choices=tuple(QUALITY), default="default", help=quality_help())
    p.add_argument("--res", type=int, default=None, choices=OPTIMIZE_RES.choices(),
                   help="working resolution in pixels (default: the --quality preset's); the target is centre-cropped "
                        "to a square and resized to it")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--iters", type=non_negative_int, nargs=3, metavar=("I", "II", "III"), help="iterations of stages I, II and III")
    p.add_argument("--samples", type=positive_int, default=None, help="random-search samples at the start of Stage II")
    p.add_argument("--rescore", type=non_negative_int, default=None, metavar="K",
                   help="re-render the K best random-search samples with the real generators and keep the best "
                        "(0: trust the proxies' ranking, as in the paper)")
    p.add_argument("--local-fraction", type=fraction, default=config_default("local_fraction"), metavar="F",
                   help="share of the random-search samples drawn near the current values (0: all over the sampling box)")
    p.add_argument("--polish", type=non_negative_int, default=None, metavar="N",
                   help="real-generator renders of the local search on the generator parameters after Stage II "
                        "(0: off, as in the paper)")
    p.add_argument("--polish-grow", type=at_least_one, default=config_default("polish_grow"), metavar="F",
                   help="polish step radius factor after a round with a gain (after one without: 0.7; "
                        "1 keeps it from growing)")
    p.add_argument("--polish-filters", action="store_true",
                   help="let the polish move the filter parameters too (real renders, as simulated annealing does)")
    p.add_argument("--stage2-check", type=non_negative_int, default=config_default("stage2_check"), metavar="N",
                   help="render Stage II's values with the real generators every N iterations, keep the best and stop "
                        "when they stop improving (0: run every iteration on the proxies alone, as in the paper)")
    p.add_argument("--stage2-patience", type=positive_int, default=None, metavar="K",
                   help="Stage II stops after K checks in a row without a real-generator gain")
    p.add_argument("--sweep", type=non_negative_int, default=None, metavar="N",
                   help="after Stage I, try every other choice of each categorical generator parameter (at most 12 "
                        "per round), re-fitting the filters by N Adam iterations each, and keep the best (0: off)")
    p.add_argument("--search-refit", type=non_negative_int, default=None, metavar="K",
                   help="re-fit the filters to the current values and the K best random-search samples of Stage II "
                        "(--search-refit-iters Adam iterations each, real generators) and start from the best (0: off)")
    p.add_argument("--search-refit-iters", type=non_negative_int, default=config_default("search_refit_iters"), metavar="N",
                   help="Adam iterations of each --search-refit re-fit")
    add_pipeline_options(p)
    p.add_argument("--no-stage1", action="store_true", help="ablation: skip Stage I")
    p.add_argument("--no-stage2", action="store_true", help="ablation: skip Stage II (Stage I alone is MATch)")
    p.add_argument("--no-random-search", action="store_true", help="ablation: no random search in Stage II")
    p.add_argument("--no-stage3", action="store_true", help="ablation: skip Stage III")
    p.add_argument("--features", default="auto", help="texture features: auto, random, or a VGG19 weights file")
    p.add_argument("--loss", default="default", choices=LOSS_NAMES, metavar="LOSS",
                   help=f"the material loss's terms, a named variant (default: default; any of: {', '.join(LOSS_NAMES)}; "
                        "compared by 'proxymat bench recovery')")
    p.add_argument("--proxy", action="append", metavar="GENERATOR[=FILE]",
                   help="use this proxy weights file for a generator; a bare GENERATOR uses the shipped proxy even "
                        "where it is recorded as no better than a flat image (off by default)")
    p.add_argument("--no-proxy", action="append", metavar="GENERATOR",
                   help="do not use the shipped proxy of this generator (the real generator: autograd on its direct "
                        "parameters, the random search and polish on the rest)")
    p.add_argument("--target-encoding", choices=("srgb", "linear"), default=None,
                   help="how the target photo is stored: srgb (phone JPEGs; compared as is) or linear "
                        "(raw/linear captures; gamma-encoded like the renders before comparing); default: linear "
                        "for EXR and other float files, srgb for 8/16-bit PNG and JPEG")
    p.add_argument("--fresh", "--force", action="store_true",
                   help="start over in an output folder that holds a checkpoint (by default a rerun resumes it, "
                        "and refuses one made with another graph, target, encoding, resolution or settings)")
    p.add_argument("--seed", type=non_negative_int, default=config_default("seed"),
                   help="seed of the optimizer's random draws (random search, polish); the same seed repeats a run "
                        "(default %(default)s)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default: the CPUs not busy with other work, at least 1; OMP_NUM_THREADS also sets it). Unless OMP_WAIT_POLICY is set, proxymat sets it to PASSIVE so that idle threads sleep instead of spinning on busy cores")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_plugin_argument(p)
    p.set_defaults(func=run_optimize)

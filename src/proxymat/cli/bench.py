"""``proxymat bench``: one sub-command per benchmark, each with only its own options.

Every benchmark prints a markdown table. ``--json-out`` keeps its rows (saved
as they come where a run is long, so a killed run keeps what it measured) and
``--record FILE`` appends the table to a markdown file such as the log
docs/history/results-log.md, under the exact command line, the date and the machine.
Output paths are checked before any work starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..benchmarks.paired import RECOVERY_FIELDS
from ..benchmarks.records import Rows, record_run, save_rows
from ..optimize.loss_config import LOSS_NAMES
from .common import CliError, map_res, non_negative_int, positive_float, positive_int
from .pipeline_options import add_pipeline_options, pipeline_settings

if TYPE_CHECKING:
    from ..benchmarks.resume import Resume

Saver = Callable[[Rows], None]

EXAMPLE_METHODS = ("full", "stage1", "no_search", "no_stage3", "no_rescore", "global_search", "no_polish",
                   "polish_filters", "polish_shrink", "no_stage2_check", "no_sweep", "no_refit",
                   "cma", "sa", "powell", "random")
E4_METHODS = ("powell_bo", "cma_es", "random_search", "powell_bo_schedule", "proxy_then_powell_bo", "direct_adam",
              "proxy_then_direct")


# ------------------------------------------------------------ benchmarks
def _run_graph(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    from ..benchmarks.speed import bench_graph, graph_table

    rows = [bench_graph(res=args.res, iters=args.iters, threads=args.threads)]
    return rows, graph_table(rows)


def _run_generators(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    from ..benchmarks.speed import bench_generators, generators_table

    _check_generators(args.names)
    rows = bench_generators(resolutions=tuple(args.res), batch=args.batch, iters=args.iters, names=args.names,
                            threads=args.threads, random_params=args.random_params)
    return rows, generators_table(rows)


def _run_all(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    from ..benchmarks.speed import bench_generators, bench_graph, generators_table, graph_table

    _check_generators(args.names)
    graph = [bench_graph(res=256, iters=args.iters, threads=args.threads)]
    gens = bench_generators(batch=args.batch, iters=args.iters, names=args.names, threads=args.threads,
                            random_params=args.random_params)
    return graph + gens, graph_table(graph) + "\n\n" + generators_table(gens)


def _run_proxies(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """E1: every shipped proxy (or ``--names``) against its real generator."""
    from ..benchmarks.fidelity import fidelity_row, fidelity_table
    from ..proxy.weights import shipped_proxy_names

    shipped = shipped_proxy_names()
    _check_names(args.names, shipped, "no shipped proxy for", "shipped")
    rows: Rows = []
    for name in args.names or shipped:
        rows.append(fidelity_row(name, args.n_eval, Path(args.figures) if args.figures else None))
        save(rows)
        _progress(f"{name}: L1 {rows[-1]['l1']:.3f}, SSIM {rows[-1]['ssim']:.2f}")
    return rows, fidelity_table(rows)


def _run_examples(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """E3 on the bundled examples."""
    from ..benchmarks.examples import example_key, run_example, summarize
    from ..examples import list_examples
    from ..optimize.config import OptimizeConfig

    known = list(list_examples())
    _check_names(args.names, known, "no bundled example named")
    base = OptimizeConfig() if args.polish is None else OptimizeConfig(polish=args.polish)
    rows: Rows = []
    for seed in args.seeds or [None]:
        for name in args.names or known:
            key = example_key(name, args.res, base.seed if seed is None else seed, args.features, base.polish, "srgb",
                              args.loss)
            kept = _kept(args, key, args.methods, f"{name}, seed {key['seed']}")
            rows += kept or run_example(name, args.methods, res=args.res, features=args.features, seed=seed,
                                        loss_name=args.loss,
                                        base=base, figures=Path(args.figures) if args.figures else None,
                                        log=_progress, bars=sys.stderr.isatty())
            save(rows)
    return rows, summarize(rows)


def _run_recovery(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """Parameter recovery of the material-loss variants on random truths of the bundled examples."""
    from ..benchmarks.recovery import run_recovery, summarize
    from ..examples import list_examples
    from ..optimize.config import OptimizeConfig, quality_settings

    known = list(list_examples())
    _check_names(args.names, known, "no bundled example named")
    _check_names(args.losses, list(LOSS_NAMES), "unknown loss variant")
    preset = quality_settings(args.quality)
    chosen = {k: v for k, v in preset.items() if k != "res"}
    chosen.update({k: v for k, v in (("stage2_patience", args.stage2_patience), ("sweep_iters", args.sweep),
                                     ("samples", args.samples), ("search_refit", args.search_refit))
                   if v is not None})
    base = OptimizeConfig(**chosen, **pipeline_settings(args))
    rows = run_recovery(args.names or known, args.truths, args.losses, res=args.res, base=base, log=_progress,
                        kept=lambda key, unit: _kept(args, key, args.losses, unit), save=save,
                        figures=Path(args.figures) if args.figures else None, from_truth=args.from_truth)
    return rows, summarize(rows)


def _run_e2(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """E2 (proxy choice): our proxy vs autoencoder-latent vs GAN-latent baselines, per generator."""
    from ..benchmarks.proxy_choice import available_generators, load_baselines, run_proxy_choice, summarize

    _check_generators(args.names)
    names = args.names or available_generators(args.baselines_dir) or ["cells"]
    for name in names:  # every generator's baselines before the first (long) fit
        load_baselines(name, args.baselines_dir)
    rows: Rows = []
    for name in names:
        rows += run_proxy_choice(name, n_targets=args.targets, steps=args.steps, pool=args.pool, res=args.res,
                                 baselines_dir=args.baselines_dir, figures=args.figures, search=args.search,
                                 progress=sys.stderr.isatty())
        save(rows)
    return rows, summarize(rows)


def _run_e4(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """E4 (mask fitting): PPTBF-mask proxy + Adam vs gradient-free fits with the real generator."""
    from ..benchmarks.mask_fit import run_mask_fit, summarize
    from ..nodes.generators import get_generator
    from ..proxy.quantile_mask import load_proxy_for

    _check_generators([args.generator])
    spec = get_generator(args.generator)
    proxy = load_proxy_for(spec, args.proxy_weights)
    rows = run_mask_fit(spec, proxy, n_targets=args.targets, res=args.res or proxy.res, budget_s=args.budget,
                        methods=args.gf_methods, steps=args.steps, search=args.search, progress=_progress, on_rows=save,
                        figures=Path(args.figures) if args.figures else None, proxy_label=args.proxy_weights,
                        kept=lambda key, methods: _kept(args, key, methods, f"target {key['target']}"),
                        bars=sys.stderr.isatty(), direct_res=args.direct_res, direct_steps=args.direct_steps,
                        direct_lr=args.direct_lr, direct_grid=args.direct_grid, direct_random=args.direct_random)
    return rows, summarize(rows)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _kept(args: argparse.Namespace, key: dict[str, Any], methods: Sequence[str], unit: str) -> Rows | None:
    """With ``--resume``, the earlier rows of one unit (all ``methods``), said on stderr; else None."""
    earlier = getattr(args, "earlier", None)  # set by _bench; absent when a test calls a runner directly
    return earlier.take(key, methods, unit, _progress) if earlier is not None else None


def _run_busy(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """The default example (or ``--example``) alone, then beside ``--busy`` spinning processes."""
    from ..benchmarks.busy import bench_busy_optimize, busy_table
    from ..examples import DEFAULT_EXAMPLE, list_examples

    name = args.example or DEFAULT_EXAMPLE
    _check_names([name], list(list_examples()), "unknown example")
    _progress(f"timing 'proxymat optimize {name}'{' (--quick)' if args.quick else ''} alone, then beside "
              f"{args.busy} busy process(es)")
    try:
        row = bench_busy_optimize(name, args.quick, args.busy, args.threads)
    except RuntimeError as err:
        raise CliError(str(err)) from None
    return [row], busy_table([row])


def _run_select(args: argparse.Namespace, save: Saver) -> tuple[Rows, str]:
    """Selection: held-out library targets (top-1/top-3), or the real-photo panel with ``--real``."""
    from ..benchmarks.selection import bench_select, real_panel, real_table, select_table
    from ..photo_fit import fit_plan, open_index, pipeline_config
    from ..select import short_config
    from ..select_index import default_index_path, library_entries

    entries = library_entries()
    plan = fit_plan(args.quality, shortlist=args.shortlist, top_k=args.top_k)
    index = open_index(entries, Path(args.index) if args.index else default_index_path(), plan, _progress)
    if args.real:
        photos = Path(args.real)
        if not photos.is_dir():
            raise CliError(f"--real {photos}: not a folder")
        rows = real_panel(photos, entries, index, pipeline_config(args.quality, res=args.res, loss=args.loss), plan,
                          figures=Path(args.figures) if args.figures else None, linear=args.linear, log=_progress)
        return rows, real_table(rows)
    rows = bench_select(entries, index, args.per_graph, args.shortlist if args.short_fits else 0, args.seed,
                        short_config(plan.short_res, plan.short_iters), save=save, log=_progress)
    return rows, select_table(rows)


def _check_names(names: Sequence[str] | None, known: Sequence[str], problem: str, listed: str = "known") -> None:
    """A one-line CLI error naming every entry of ``names`` that is not in ``known``, and what is."""
    unknown = [n for n in names or () if n not in known]
    if unknown:
        raise CliError(f"{problem} {', '.join(unknown)} ({listed}: {', '.join(known)})")


def _check_generators(names: Sequence[str] | None) -> None:
    from ..nodes.generators import generator_specs

    _check_names(names, sorted(generator_specs()), "unknown generator")


# -------------------------------------------------------------- outputs
def _check_output(path: str | None, option: str) -> None:
    """Fail before the run, not after it, when ``path`` cannot be written."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise CliError(f"{option} {path}: is a folder, expected a file")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise CliError(f"{option} {path}: cannot write in {parent}")
    if p.exists() and not os.access(p, os.W_OK):
        raise CliError(f"{option} {path}: not writable")


def _check_folder(path: str | None, option: str) -> None:
    """Fail before the run when ``path`` names a file, not a folder."""
    if path and Path(path).exists() and not Path(path).is_dir():
        raise CliError(f"{option} {path}: is a file, expected a folder")


def _bench(args: argparse.Namespace) -> int:
    _check_output(args.json_out, "--json-out")
    _check_output(args.record, "--record")
    _check_folder(args.figures, "--figures")
    args.earlier = _earlier_rows(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows, table = args.run(args, lambda so_far: save_rows(args.json_out, so_far))
    save_rows(args.json_out, rows)
    print(table)
    if args.record:
        record_run(args.record, getattr(args, "argv", None) or ["bench", args.what], table, args.threads,
                   args.json_out, args.figures)
        _progress(f"recorded in {args.record}")
    return 0


def _earlier_rows(args: argparse.Namespace) -> "Resume":
    """What ``--resume`` keeps from ``--json-out`` (:func:`~proxymat.benchmarks.resume.open_resume`)."""
    from ..benchmarks.resume import open_resume
    try:
        return open_resume(args.json_out, getattr(args, "resume", False), _progress)
    except ValueError as err:
        raise CliError(str(err)) from err


def _compare(args: argparse.Namespace) -> int:
    """``bench compare A.json B.json``: two runs' rows case by case (:mod:`proxymat.benchmarks.paired`)."""
    import json

    from ..benchmarks.paired import match, shared_fields, table

    sets = []
    for path, method in ((args.a, args.method_a), (args.b, args.method_b)):
        try:
            rows = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise CliError(f"{path}: cannot read benchmark rows ({err.__class__.__name__}: {err})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CliError(f"{path}: not a list of benchmark rows (as --json-out writes them)")
        methods = sorted({str(r.get("method", "")) for r in rows})
        if method is not None:
            rows = [r for r in rows if str(r.get("method", "")) == method]
            if not rows:
                raise CliError(f"{path}: no row of method {method!r} (methods: {', '.join(methods)})")
        elif len(methods) > 1:
            raise CliError(f"{path} holds several methods ({', '.join(methods)}): choose one with --method-a/--method-b")
        sets.append(rows)
    try:
        pairs = match(*sets)
        fields = args.fields or shared_fields(pairs, RECOVERY_FIELDS)
        if not fields:
            raise CliError(f"the rows have none of recovery's fields ({' '.join(RECOVERY_FIELDS)}): name some with --fields")
        present = shared_fields(pairs, fields)
        missing = [f for f in fields if f not in present]
        if missing:
            raise CliError(f"--fields {missing[0]}: not a field of every matched row")
        text = table(pairs, fields, args.name_a or Path(args.a).stem, args.name_b or Path(args.b).stem, args.level)
    except ValueError as err:
        raise CliError(str(err)) from None
    unmatched = len(sets[0]) + len(sets[1]) - 2 * len(pairs)
    print(text)
    if unmatched:
        _progress(f"{unmatched} row(s) without a partner in the other file left out")
    return 0


# ---------------------------------------------------------------- parser
def register(sub: Any) -> None:
    """Add ``bench`` and its benchmarks to an argparse sub-parser collection."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads")
    common.add_argument("--json-out", default=None, metavar="FILE", help="write all rows here (JSON)")
    common.add_argument("--record", default=None, metavar="FILE",
                        help="append the table, the command line and the machine to this markdown file "
                             "(e.g. docs/history/results-log.md)")
    with_figures = argparse.ArgumentParser(add_help=False)
    with_figures.add_argument("--figures", default=None, metavar="DIR", help="folder for comparison images")
    resumable = argparse.ArgumentParser(add_help=False)
    resumable.add_argument("--resume", action="store_true",
                           help="keep the finished units (an example at a seed, an E4 target) already in --json-out "
                                "when they match this run's settings and methods, and run the rest (the earlier "
                                "file is copied to FILE.bak first)")
    no_figures = argparse.ArgumentParser(add_help=False)
    no_figures.set_defaults(figures=None)

    p = sub.add_parser("bench", help="benchmarks: speed, E1-E4 (markdown tables; see docs/RESULTS.md)",
                       description="Run one benchmark; it prints a markdown table.")
    what = p.add_subparsers(dest="what", metavar="BENCHMARK", required=True)

    def add(name: str, run: Callable[..., tuple[Rows, str]], text: str, figures: bool,
            resume: bool = False) -> argparse.ArgumentParser:
        parents = [common, with_figures if figures else no_figures] + ([resumable] if resume else [])
        q = what.add_parser(name, help=text, description=text, parents=parents)
        q.set_defaults(func=_bench, run=run)
        return q

    q = add("graph", _run_graph, "speed of one optimization iteration of a 20-node graph", False)
    q.add_argument("--res", type=map_res, default=256, help="map resolution in pixels (default 256)")
    q.add_argument("--iters", type=positive_int, default=5, help="timed repeats (the median is reported)")

    def generator_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--iters", type=positive_int, default=5, help="timed repeats (the median is reported)")
        q.add_argument("--batch", type=positive_int, default=16, help="maps per call (a quarter of it above 256 px)")
        q.add_argument("--names", nargs="+", default=None, metavar="GENERATOR", help="only these generators")
        q.add_argument("--random-params", action="store_true", help="random parameters in the sampling box")

    q = add("busy", _run_busy, "speed on a busy machine: 'proxymat optimize' on an example alone, then beside "
            "pure-Python loops keeping CPUs busy (the ratio of the two times); --threads is passed on", False)
    q.add_argument("--example", default=None, help="bundled example to fit (default: the default example)")
    q.add_argument("--busy", type=positive_int, default=1, help="busy processes beside the second run (default 1)")
    q.add_argument("--quick", action="store_true",
                   help="a shortened fit (--res 64, 20 iterations per stage, small searches): seconds, not minutes")

    q = add("generators", _run_generators, "images per second of each generator", False)
    generator_options(q)
    q.add_argument("--res", type=map_res, nargs="+", default=[128, 256, 512], help="resolutions in pixels (default 128 256 512)")
    q = add("all", _run_all, "graph (256 px) and generators together", False)
    generator_options(q)

    q = add("proxies", _run_proxies, "E1: proxy fidelity against the real generators", True)
    q.add_argument("--n-eval", type=positive_int, default=256, help="held-out parameter vectors")
    q.add_argument("--names", nargs="+", default=None, metavar="GENERATOR", help="only these shipped proxies")

    q = add("examples", _run_examples, "E3: graph optimization of the bundled examples against baselines", True, True)
    q.add_argument("--res", type=map_res, default=256, help="working resolution of each fit in pixels (default 256)")
    q.add_argument("--names", nargs="+", default=None, metavar="EXAMPLE", help="only these examples")
    q.add_argument("--methods", nargs="+", choices=EXAMPLE_METHODS, default=["full", "stage1"], metavar="METHOD",
                   help=f"any of: {', '.join(EXAMPLE_METHODS)} (default: full stage1)")
    q.add_argument("--features", default="auto", help="texture descriptor of the loss (auto, random, filters, VGG19 file)")
    q.add_argument("--loss", default="default", choices=LOSS_NAMES, metavar="LOSS",
                   help="the material loss's terms, a named variant (default: default; see bench recovery)")
    q.add_argument("--seeds", type=non_negative_int, nargs="+", default=None, help="repeat with these optimization seeds")
    q.add_argument("--polish", type=non_negative_int, default=None, metavar="N",
                   help="polish budget (real renders) of the pipeline's methods (default: optimize's)")

    q = add("select", _run_select, "graph selection: top-1/top-3 on library renders at held-out parameters and "
            "seeds; --real: the shared photos fitted by selection beside E3's hand-paired fits", True)
    q.add_argument("--per-graph", type=positive_int, default=4, help="held-out targets per library graph (default 4)")
    q.add_argument("--shortlist", type=positive_int, default=6, help="graphs nearest by descriptor that get a short fit")
    q.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                   help="--real: graphs that get the full pipeline, the best kept as proxymat fit keeps it (default: the preset's, "
                        "as proxymat fit)")
    q.add_argument("--no-short-fits", dest="short_fits", action="store_false", help="rank by descriptor only")
    q.add_argument("--seed", type=non_negative_int, default=0, help="seed of the held-out draws (default 0)")
    q.add_argument("--index", metavar="FILE", help="selection index (default: the shipped one)")
    q.add_argument("--real", metavar="DIR", help="fit the photos of this folder (the shared real photos) instead")
    q.add_argument("--quality", choices=("fast", "default", "best"), default="default",
                   help="--real: the fit's preset (as proxymat fit --quality)")
    q.add_argument("--res", type=int, default=None, help="--real: working resolution (default: the preset's)")
    q.add_argument("--loss", default="default", choices=LOSS_NAMES, metavar="LOSS",
                   help="--real: the material loss variant of the short and full fits (as proxymat fit --loss)")
    q.add_argument("--linear", action="store_true",
                   help="--real: the photos hold linear values (as proxymat fit --linear; default: sRGB, as fit reads "
                        "8-bit files) and are set beside E3's linear fits (e3_real_*_lin.png)")

    q = add("recovery", _run_recovery, "material loss: which loss recovers known parameters (random truths of every "
            "example at held-out seeds, from random starts); parameter error, share closer than the start, patch "
            "SWD and Lab distance", True, True)
    q.add_argument("--losses", nargs="+", default=["default"], metavar="LOSS",
                   help="loss variants to compare side by side (proxymat.optimize.loss.LOSS_PRESETS; default: default)")
    q.add_argument("--names", nargs="+", default=None, metavar="EXAMPLE", help="only these examples")
    q.add_argument("--truths", type=positive_int, default=3, help="random truths per example (default 3)")
    q.add_argument("--from-truth", nargs="?", const="all", default="", choices=("all", "generators", "filters"),
                   help="start every case at its truth (only the layout differs): how far the pipeline drifts from "
                        "a perfect start, the floor the loss sets on recovery; 'generators' or 'filters' start only "
                        "those at the truth")
    q.add_argument("--res", type=int, choices=(64, 128, 256), default=128,
                   help="working resolution in pixels (default 128)")
    q.add_argument("--quality", choices=("fast", "default", "best"), default="default",
                   help="the pipeline's preset (as optimize --quality; its resolution is replaced by --res)")
    q.add_argument("--samples", type=positive_int, default=None, metavar="N",
                   help="as optimize --samples: Stage II's random search draws (default: the --quality preset's)")
    q.add_argument("--search-refit", type=non_negative_int, default=None, metavar="N",
                   help="as optimize --search-refit (default: the --quality preset's)")
    add_pipeline_options(q, echo=True)
    q.add_argument("--stage2-patience", type=positive_int, default=None, metavar="K",
                   help="as optimize --stage2-patience (default: the --quality preset's)")
    q.add_argument("--sweep", type=non_negative_int, default=None, metavar="N",
                   help="as optimize --sweep (default: the --quality preset's)")

    text = ("two runs' rows (--json-out files) case by case: each field's mean difference and its bootstrap "
            "interval over the cases, and on how many cases the second is lower or higher")
    q = what.add_parser("compare", help=text, description=text)
    q.add_argument("a", help="the first run's rows (JSON)")
    q.add_argument("b", help="the second run's rows (JSON)")
    q.add_argument("--fields", nargs="+", default=None, metavar="FIELD",
                   help=f"row fields to compare (default: those of recovery's {' '.join(RECOVERY_FIELDS)} that every "
                        "row has)")
    q.add_argument("--method-a", default=None, metavar="NAME", help="only the first file's rows of this method")
    q.add_argument("--method-b", default=None, metavar="NAME", help="only the second file's rows of this method")
    q.add_argument("--name-a", default=None, help="the first run's name in the table (default: its file name)")
    q.add_argument("--name-b", default=None, help="the second run's name in the table (default: its file name)")
    q.add_argument("--level", type=float, default=0.9, help="the interval's coverage (default 0.9)")
    q.set_defaults(func=_compare)

    q = add("e2", _run_e2, "E2: proxy choice (ours vs autoencoder and GAN latents)", True)
    q.add_argument("--names", nargs="+", default=None, metavar="GENERATOR", help="default: those with baselines")
    q.add_argument("--res", type=map_res, default=None, help="the proxy's resolution (default: its own)")
    q.add_argument("--targets", type=positive_int, default=8, help="held-out targets per generator")
    q.add_argument("--steps", type=positive_int, default=300, help="Adam steps per method and target")
    q.add_argument("--pool", type=positive_int, default=1024, help="real maps to project latent baselines on")
    q.add_argument("--search", type=positive_int, default=1024,
                   help="random parameter vectors scored through our proxy to start its fit (default 1024, as many "
                        "as the pool)")
    q.add_argument("--baselines-dir", default="bench/weights", help="folder of the baseline weights")

    q = add("e4", _run_e4, "E4: PPTBF mask fitting, proxy + Adam vs gradient-free", True, True)
    q.add_argument("--generator", default="pptbf_mask_cellular", help="the mask family (default: pptbf_mask_cellular)")
    q.add_argument("--res", type=map_res, default=None, help="resolution of the masks (default: the proxy's)")
    q.add_argument("--targets", type=positive_int, default=8, help="held-out targets")
    q.add_argument("--steps", type=positive_int, default=300, help="Adam steps through the proxy per target")
    q.add_argument("--budget", type=positive_float, default=120.0, help="seconds per gradient-free fit")
    q.add_argument("--search", type=positive_int, default=64,
                   help="random parameter vectors scored through the proxy to start its fit (default 64, the "
                        "setting of the recorded E4 runs; its 4 best start Adam)")
    q.add_argument("--gf-methods", nargs="+", choices=E4_METHODS, default=["powell_bo", "cma_es"], metavar="METHOD",
                   help=f"any of: {', '.join(E4_METHODS)} (default: powell_bo cma_es); direct_adam: Adam through "
                   "the real generator on its direct parameters, with --search; proxy_then_direct: the same from "
                   "the proxy fit's result")
    q.add_argument("--direct-res", type=map_res, default=None,
                   help="resolution of the direct methods' renders in their loop (default: --res; checks score --res)")
    q.add_argument("--direct-steps", type=positive_int, default=None,
                   help="Adam steps of the direct methods (default: --steps)")
    q.add_argument("--direct-lr", type=positive_float, default=0.03,
                   help="Adam learning rate of the direct methods (default 0.03, the proxy fit's)")
    q.add_argument("--direct-grid", type=non_negative_int, default=0,
                   help="before the direct methods' Adam, try this many values of each coordinate without a direct "
                   "gradient (zoom, aspect: all combinations) at --direct-res and keep the best (default 0: none)")
    q.add_argument("--direct-random", type=non_negative_int, default=0,
                   help="proxy_then_direct: also start its Adam from this many of the best of --search random vectors "
                   "scored with real renders at --direct-res (default 0: the proxy fit's result alone)")
    q.add_argument("--proxy-weights", default=None, help="proxy file or shipped name (default: the family's own); "
                   "a proxy of the family's rank field (pptbf_rank_cellular) is thresholded at the white fraction")

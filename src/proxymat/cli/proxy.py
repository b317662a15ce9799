"""``proxymat proxy train|eval|list``: train, measure and list generator proxies."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..proxy.train_config import TrainConfig
from ..resolution import PROXY_RES
from .common import CliError, add_plugin_argument, choose_threads, non_negative_int, positive_int, resolution_type, torch_device


def _spec(name: str) -> Any:
    from ..nodes.generators import get_generator

    try:
        return get_generator(name)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None


def run_train(args: argparse.Namespace) -> int:
    choose_threads(args)  # before torch is imported
    import torch

    from ..proxy.distributed import dist_context
    from ..proxy.model import ProxyConfig, one_hot_categories, proxy_inputs
    from ..proxy.train import checkpoint_path, train_proxy

    spec = _spec(args.generator)
    if args.unpin:
        spec = replace(spec, fixed={})
    if args.free:
        spec = replace(spec, fixed=_freed(spec, args.free))
    if args.pin:
        spec = replace(spec, fixed={**spec.fixed, **_pins(spec, args.pin)})
    device = torch_device(args.device)
    try:
        ctx = dist_context()
    except ValueError as err:
        raise CliError(str(err)) from None
    out = Path(args.out or f"proxies/{spec.name}.safetensors")
    if args.init and (args.one_hot or args.fourier):
        raise CliError("--one-hot and --fourier apply to a fresh model; --init keeps the source proxy's inputs")
    try:
        mcfg = _init_config(args, len(proxy_inputs(spec))) if args.init else ProxyConfig(
            n_params=len(proxy_inputs(spec)), res=args.res or 128, w_dim=args.w_dim or ProxyConfig.w_dim, channels=tuple(args.channels or ()),
            categories=one_hot_categories(spec) if args.one_hot else (), fourier=args.fourier)
    except ValueError as err:
        raise CliError(str(err)) from None
    tcfg = TrainConfig(steps=args.steps, batch=args.batch, res=mcfg.res, device=str(device), num_threads=args.threads,
                       checkpoint_every=args.checkpoint_every, val_every=args.val_every, features=args.features,
                       seed=args.seed, cache_dir=args.cache_dir, ema_halflife=args.ema_halflife,
                       init_from=str(args.init) if args.init else None)
    if args.gan is not None:
        tcfg = replace(tcfg, gan=args.gan)
    if args.feat_weight is not None:
        tcfg = replace(tcfg, feat_weight=args.feat_weight, gan_feat_weight=args.feat_weight)
    resume = not args.fresh and checkpoint_path(out).is_file()
    if resume and ctx.is_main:
        print(f"resuming from {checkpoint_path(out)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    bars = not args.quiet and sys.stderr.isatty()  # a bar only on a terminal; logs and pipes get the log lines
    lines = None if bars or args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = train_proxy(spec, mcfg, tcfg, out, progress=bars, log=lines, resume=resume, distributed=ctx)
    if ctx.is_main:
        print(f"saved {result.out_path} after {result.step} steps")
    return 0


def _pins(spec: Any, items: list[str]) -> dict[str, float]:
    """``--pin NAME=VALUE`` items -> pinned parameter values in real units (an enum by its choice name),
    each checked against ``spec``; a bad item is a one-line :class:`CliError`."""
    out: dict[str, float] = {}
    names = [p.name for p in spec.params]
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in names:
            raise CliError(f"--pin {item!r}: expected NAME=VALUE with NAME one of {names}")
        param = spec.param(name)
        value: Any = text
        if param.kind not in ("enum",):
            try:
                value = float(text)
            except ValueError:
                raise CliError(f"--pin {item!r}: {name} takes a number") from None
        try:
            out[name] = param.to_numbers(value)[0]
        except ValueError as err:
            raise CliError(f"--pin {item!r}: {err}") from None
    return out


def _freed(spec: Any, names: list[str]) -> dict[str, float]:
    """``spec.fixed`` without the ``--free NAME`` parameters; a name it does not pin is a CliError."""
    pinned = sorted(spec.fixed)
    for name in names:
        if name not in spec.fixed:
            raise CliError(f"--free {name}: {spec.name} does not pin it (pinned: {', '.join(pinned) or 'nothing'})")
    return {k: v for k, v in spec.fixed.items() if k not in names}


def _init_config(args: argparse.Namespace, n_params: int) -> Any:
    """The model config of a run that starts from the proxy file ``--init`` names (a path or a shipped
    name): the source's own, with ``n_params`` inputs (``--free`` adds inputs to it), or, with a larger
    ``--res``, the source grown to it (progressive resolution; ``--channels`` then lists the added
    levels' channels only)."""
    from ..proxy.grow import grown_config
    from ..proxy.weights import load_proxy, resolve_weights

    source = args.init
    if not resolve_weights(source).is_file():
        raise CliError(f"--init {source}: no such proxy file ({resolve_weights(source)})")
    cfg = load_proxy(source).config
    if n_params != cfg.n_params:
        if cfg.categories:
            raise CliError(f"--init {source} feeds its enum inputs one-hot; it cannot gain inputs")
        cfg = replace(cfg, n_params=n_params)
    if args.w_dim is not None and args.w_dim != cfg.w_dim:
        raise CliError(f"--w-dim {args.w_dim} differs from the model of --init {source} ({cfg.w_dim}); "
                       f"a fine-tune keeps the source's model")
    if args.res is not None and args.res != cfg.res:
        if args.res < cfg.res:
            raise CliError(f"--res {args.res} is below the {cfg.res} px of --init {source}; a proxy can only grow")
        return grown_config(cfg, args.res, tuple(args.channels or ()))
    if args.channels and tuple(args.channels) != cfg.channels:
        raise CliError(f"--channels {tuple(args.channels)} differs from the model of --init {source} ({cfg.channels}); "
                       f"a fine-tune keeps the source's model")
    return cfg


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from ..proxy.metrics import evaluate_proxy, proxy_grid
    from ..proxy.quantile_mask import QuantileMaskProxy, load_proxy_for

    from ..proxy.weights import VARIANT_SEP, proxy_generator

    spec = _spec(proxy_generator(args.generator))
    if VARIANT_SEP in args.generator and not args.weights:  # a shipped variant by its name, e.g. cells@f1
        args.weights = args.generator
    device = torch_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    proxy = load_proxy_for(spec, args.weights, device=device)
    if not isinstance(proxy, QuantileMaskProxy):  # held-out draws pin what the proxy pins (--unpin: nothing)
        spec = replace(spec, fixed=proxy.fixed)
    if args.record and isinstance(proxy, QuantileMaskProxy):
        raise CliError(f"--record stores a proxy's own fidelity; {args.weights} is a proxy of {proxy.source!r}, "
                       f"not of {spec.name!r}")
    metrics = evaluate_proxy(proxy, spec, n=args.n, res=args.res, device=device)
    if args.grid:
        metrics["grid"] = str(proxy_grid(proxy, spec, args.grid, res=args.res, device=device))
    if args.record:
        from ..proxy.weights import record_metrics, resolve_weights

        record_metrics(resolve_weights(args.weights or spec.name),
                       {k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    metrics["generator"] = spec.name
    if isinstance(proxy, QuantileMaskProxy):
        metrics["via"] = f"{proxy.source} proxy, thresholded at the white fraction"
    metrics["steps"] = proxy.training_info.get("steps")
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>10}: {v:.4f}" if isinstance(v, float) else f"{k:>10}: {v}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from ..proxy.status import GOAL_L1, GOAL_SSIM, proxy_rows

    rows = proxy_rows()
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no proxies shipped")
        return 0

    def cell(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    width = max(len(r["name"]) for r in rows) + 1
    print(f"{'proxy':<{width}} {'res':>4} {'params':>6} {'steps':>6} {'hours':>5} {'L1':>6} {'SSIM':>5} "
          f"{'flat L1':>7} {'flat SSIM':>9}  status")
    for r in rows:
        print(f"{r['name']:<{width}} {r['res']:>4} {r['params']:>6} {cell(r['steps'], 'd'):>6} "
              f"{cell(r['train_hours'], '.2f'):>5} {cell(r['l1'], '.3f'):>6} {cell(r['ssim'], '.2f'):>5} "
              f"{cell(r['flat_l1'], '.3f'):>7} {cell(r['flat_ssim'], '.2f'):>9}  {r['status']}")
    print(f"(held-out fidelity as recorded by `proxymat proxy eval NAME --record`; goal L1 <= {GOAL_L1}, "
          f"SSIM >= {GOAL_SSIM}; 'unused': no better than a flat image, optimize leaves it out unless --proxy NAME)")
    return 0


def register(sub: Any) -> None:
    """Add ``proxy train|eval|list`` to an argparse sub-parser collection."""
    p = sub.add_parser("proxy", help="train, evaluate or list generator proxies")
    psub = p.add_subparsers(dest="proxy_command", metavar="ACTION", required=True)

    t = psub.add_parser("train", help="train a proxy for a generator (resumes from its checkpoint; "
                        "data-parallel under torchrun)")
    t.add_argument("generator", help="generator name (proxymat generators lists them)")
    t.add_argument("--steps", type=positive_int, default=TrainConfig.steps, help="total training steps (default %(default)s)")
    t.add_argument("--res", type=resolution_type(PROXY_RES), default=None,
                   help="output resolution of the proxy in pixels (default 128; with --init the source's, and a larger "
                        "one grows the source: progressive resolution)")
    t.add_argument("--batch", type=positive_int, default=TrainConfig.batch, help="parameter sets per step, per process (default %(default)s)")
    t.add_argument("--w-dim", type=positive_int, default=None, help="style vector size (default 256)")
    t.add_argument("--channels", type=positive_int, nargs="*", help="channels per resolution 4, 8, ..., res")
    t.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    t.add_argument("--threads", type=positive_int, default=None,
                   help="torch CPU threads (default: the CPUs not busy with other work, at least 1; OMP_NUM_THREADS also sets it). Unless OMP_WAIT_POLICY is set, proxymat sets it to PASSIVE so that idle threads sleep instead of spinning on busy cores")
    t.add_argument("--out", help="weights file (default proxies/GENERATOR.safetensors)")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="start from these proxy weights (file or shipped name; same inputs, its model config) "
                        "instead of random ones, e.g. to fine-tune on a narrower family; a checkpoint of --out wins")
    t.add_argument("--gan", dest="gan", action="store_true", default=None, help="adversarial term (default: for stochastic generators)")
    t.add_argument("--no-gan", dest="gan", action="store_false", help="no adversarial term, even for a stochastic generator")
    t.add_argument("--feat-weight", type=float, default=None, metavar="W",
                   help="weight of the feature loss (default 10; 1 for GAN runs)")
    t.add_argument("--features", default=TrainConfig.features,
                   help="texture features of the feature and style losses: auto, random, or a VGG19 weights file")
    # The command checkpoints and validates twice as often as TrainConfig's library default.
    t.add_argument("--checkpoint-every", type=positive_int, default=250, metavar="STEPS",
                   help="save a resumable checkpoint every STEPS steps (default 250)")
    t.add_argument("--val-every", type=positive_int, default=250, metavar="STEPS",
                   help="measure the held-out validation loss every STEPS steps (default 250)")
    t.add_argument("--seed", type=non_negative_int, default=TrainConfig.seed,
                   help="seed of the sampled training parameters and of the model's initial weights (default %(default)s)")
    t.add_argument("--ema-halflife", type=float, default=TrainConfig.ema_halflife, metavar="STEPS",
                   help="validate and ship a moving average of the weights with this half-life (0: the raw weights)")
    t.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="store every training batch here (float16 targets) and re-use it in later runs")
    t.add_argument("--unpin", action="store_true",
                   help="make every parameter a proxy input, including those the generator pins for its shipped proxy")
    t.add_argument("--free", action="append", default=[], metavar="NAME",
                   help="make this parameter, which the generator pins for its shipped proxy, a proxy input "
                        "(repeatable); with --init the source proxy gains it as an input that starts with no effect")
    t.add_argument("--pin", action="append", default=[], metavar="NAME=VALUE",
                   help="train for nodes with this parameter at this value (repeatable; an enum by its choice, e.g. "
                        "style=f1): it is no input of the proxy, and the proxy serves only nodes that match every pin")
    t.add_argument("--one-hot", action="store_true",
                   help="feed each enum input to the mapping network one-hot instead of as a scalar index")
    t.add_argument("--fourier", type=non_negative_int, default=0, metavar="K",
                   help="feed sin and cos of K frequencies along x and y to the first resolution above 2K, so that "
                        "counts (bricks per row, tiles per side) become a choice of frequency (0: none, as the method)")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    add_plugin_argument(t)
    t.set_defaults(func=run_train)

    e = psub.add_parser("eval", help="fidelity of a proxy against its real generator on held-out parameters")
    e.add_argument("generator", help="generator name, or a shipped proxy's name such as cells@f1 (proxymat proxy list "
                   "shows the shipped proxies)")
    e.add_argument("--weights", help="weights file or shipped name (default: the shipped proxy); for a mask "
                   "family also a proxy of its rank field, thresholded at the white fraction")
    e.add_argument("--n", type=positive_int, default=256, help="held-out parameter sets (default 256)")
    e.add_argument("--res", type=positive_int, default=None, help="comparison resolution in pixels (default: the proxy's)")
    e.add_argument("--grid", help="write a real-vs-proxy image grid here (PNG)")
    e.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    e.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's own choice)")
    e.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    e.add_argument("--record", action="store_true",
                   help="store the results in the weights file's metrics (optimize reads them to skip a proxy "
                        "that is no better than a flat image)")
    add_plugin_argument(e)
    e.set_defaults(func=run_eval)

    ls = psub.add_parser("list", help="list the shipped proxies with their recorded fidelity")
    ls.add_argument("--json", action="store_true", help="one JSON list of rows")
    ls.set_defaults(func=run_list)

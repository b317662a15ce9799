"""``proxymat proxy train|eval|list``: train, measure and list generator proxies."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any


def _spec(name: str) -> Any:
    from ..cli import CliError
    from ..nodes.generators import get_generator

    try:
        return get_generator(name)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ..cli import CliError, _device
    from .distributed import dist_context
    from .model import ProxyConfig, proxy_inputs
    from .train import TrainConfig, checkpoint_path, train_proxy

    spec = _spec(args.generator)
    device = _device(args.device)
    try:
        ctx = dist_context()
    except ValueError as err:
        raise CliError(str(err)) from None
    out = Path(args.out or f"proxies/{spec.name}.safetensors")
    try:
        mcfg = ProxyConfig(n_params=len(proxy_inputs(spec)), res=args.res, w_dim=args.w_dim,
                           channels=tuple(args.channels or ()))
    except ValueError as err:
        raise CliError(str(err)) from None
    tcfg = TrainConfig(steps=args.steps, batch=args.batch, res=args.res, device=str(device), num_threads=args.threads,
                       checkpoint_every=args.checkpoint_every, val_every=args.val_every, features=args.features,
                       seed=args.seed, cache_dir=args.cache_dir, ema_halflife=args.ema_halflife)
    if args.gan is not None:
        tcfg = replace(tcfg, gan=args.gan)
    if args.feat_weight is not None:
        tcfg = replace(tcfg, feat_weight=args.feat_weight, gan_feat_weight=args.feat_weight)
    resume = not args.fresh and checkpoint_path(out).is_file()
    if resume and ctx.is_main:
        print(f"resuming from {checkpoint_path(out)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = train_proxy(spec, mcfg, tcfg, out, progress=not args.quiet, resume=resume, distributed=ctx)
    if ctx.is_main:
        print(f"saved {result.out_path} after {result.step} steps")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from ..cli import _device
    from .metrics import evaluate_proxy, proxy_grid
    from .weights import load_proxy

    spec = _spec(args.generator)
    device = _device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    proxy = load_proxy(args.weights or spec.name, device=device, spec=spec)
    metrics = evaluate_proxy(proxy, spec, n=args.n, res=args.res, device=device)
    if args.grid:
        metrics["grid"] = str(proxy_grid(proxy, spec, args.grid, res=args.res, device=device))
    if args.record:
        from .weights import record_metrics, resolve_weights

        record_metrics(resolve_weights(args.weights or spec.name),
                       {k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    metrics["generator"] = spec.name
    metrics["steps"] = proxy.training_info.get("steps")
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>10}: {v:.4f}" if isinstance(v, float) else f"{k:>10}: {v}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from importlib import resources

    from .weights import load_proxy

    folder = resources.files("proxymat").joinpath("weights")
    found = sorted(e.name[: -len(".safetensors")] for e in folder.iterdir() if e.name.endswith(".safetensors"))
    if not found:
        print("no proxies shipped")
    width = max((len(n) for n in found), default=0) + 1
    for name in found:
        proxy = load_proxy(name)
        info = proxy.training_info
        print(f"{name:<{width}} res {proxy.res:<4} params {len(proxy.param_names):<3} steps {info.get('steps', '?')} "
              f"metrics {json.dumps(proxy.metrics)}")
    return 0


def register_proxy(sub: Any) -> None:
    from ..cli import positive_int

    p = sub.add_parser("proxy", help="train, evaluate or list generator proxies")
    psub = p.add_subparsers(dest="proxy_command", metavar="ACTION", required=True)

    t = psub.add_parser("train", help="train a proxy for a generator (resumes from its checkpoint; "
                        "data-parallel under torchrun)")
    t.add_argument("generator")
    t.add_argument("--steps", type=positive_int, default=10_000)
    t.add_argument("--res", type=int, default=128)
    t.add_argument("--batch", type=positive_int, default=8)
    t.add_argument("--w-dim", type=positive_int, default=256)
    t.add_argument("--channels", type=int, nargs="*", help="channels per resolution 4, 8, ..., res")
    t.add_argument("--device", default="cpu")
    t.add_argument("--threads", type=positive_int, default=None)
    t.add_argument("--out", help="weights file (default proxies/GENERATOR.safetensors)")
    t.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    t.add_argument("--gan", dest="gan", action="store_true", default=None, help="adversarial term (default: for stochastic generators)")
    t.add_argument("--no-gan", dest="gan", action="store_false")
    t.add_argument("--feat-weight", type=float, default=None)
    t.add_argument("--features", default="auto")
    t.add_argument("--checkpoint-every", type=positive_int, default=250)
    t.add_argument("--val-every", type=positive_int, default=250)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--ema-halflife", type=float, default=500.0, metavar="STEPS",
                   help="validate and ship a moving average of the weights with this half-life (0: the raw weights)")
    t.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="store every training batch here (float16 targets) and re-use it in later runs")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=run_train)

    e = psub.add_parser("eval", help="fidelity of a proxy against its real generator on held-out parameters")
    e.add_argument("generator")
    e.add_argument("--weights", help="weights file (default: the shipped proxy)")
    e.add_argument("--n", type=positive_int, default=256)
    e.add_argument("--res", type=int, default=None)
    e.add_argument("--grid", help="write a real-vs-proxy image grid here (PNG)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=positive_int, default=None)
    e.add_argument("--json", action="store_true")
    e.add_argument("--record", action="store_true",
                   help="store the results in the weights file's metrics (optimize reads them to skip a proxy "
                        "that is no better than a flat image)")
    e.set_defaults(func=run_eval)

    ls = psub.add_parser("list", help="list the shipped proxies")
    ls.set_defaults(func=run_list)

"""The ``proxymat`` command line.

Every command turns expected failures (bad graph, bad image, unwritable output)
into one line on stderr and exit status 2; nothing is half written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence


class CliError(Exception):
    """An expected failure, reported as one line."""


def _device(name: str) -> Any:
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CliError(f"device {name!r} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise CliError(f"invalid device {name!r}: {err}") from None


def _checked(value: str, parse: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """Parse ``value`` with ``parse``; an argparse error naming ``what`` unless ``ok`` accepts it."""
    try:
        x = parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if not ok(x):
        raise argparse.ArgumentTypeError(f"expected {what}, got {x:g}")
    return x


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    return _checked(value, int, lambda n: n >= 1, "a positive integer")


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    return _checked(value, int, lambda n: n >= 0, "an integer >= 0")


def at_least_one(value: str) -> float:
    """argparse type: a finite number >= 1."""
    return _checked(value, float, lambda x: 1.0 <= x < float("inf"), "a number >= 1")


def fraction(value: str) -> float:
    """argparse type: a number in [0, 1]."""
    return _checked(value, float, lambda x: 0.0 <= x <= 1.0, "a number in [0, 1]")


def _res(value: str) -> int:
    try:
        res = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution must be an integer, got {value!r}") from None
    if not 8 <= res <= 4096:
        raise argparse.ArgumentTypeError(f"resolution must be between 8 and 4096, got {res}")
    return res


def _load_graph(ref: str) -> Any:
    from .examples import resolve_graph

    return resolve_graph(ref)


# ---------------------------------------------------------------- commands
def cmd_render(args: argparse.Namespace) -> int:
    import torch

    from .io import write_maps, write_png
    from .render import RenderSettings, render

    graph = _load_graph(args.graph)
    device = _device(args.device)
    settings = RenderSettings(model=args.model, normal_format="gl")
    with torch.no_grad():
        maps = graph.evaluate(args.res, device=device)
        image = render(maps, settings)
    out = Path(args.output)
    written = write_maps({k: v[0:1].cpu() for k, v in maps.items()}, out, bits=args.bits, normal_format=args.normal_format)
    render_path = out / "render.png"
    write_png(render_path, image[0:1].cpu(), bits=8)
    for p in [*written, render_path]:
        print(p)
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    from .nodes.filters import filter_specs
    from .nodes.generators import generator_specs

    filters = filter_specs()
    gens = generator_specs() if args.all else {}
    rows: list[dict[str, Any]] = []
    for name, spec in sorted(filters.items()):
        rows.append({"type": name, "kind": "filter", "doc": spec.doc,
                     "inputs": [{"name": p.name, "channels": p.channels, "optional": p.optional} for p in spec.inputs],
                     "outputs": list(spec.outputs), "params": [p.to_json() for p in spec.params]})
    for name, spec in sorted(gens.items()):
        rows.append(_generator_row(name, spec))
    if args.type:
        rows = [r for r in rows if r["type"] == args.type]
        if not rows:
            raise CliError(f"unknown node type {args.type!r}")
    _print_rows(rows, args.json)
    return 0


def _generator_row(name: str, spec: Any) -> dict[str, Any]:
    return {"type": name, "kind": "generator", "doc": spec.doc, "inputs": [], "outputs": ["output"],
            "params": [p.to_json() for p in spec.params], "stochastic": spec.stochastic}


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        ins = ", ".join(i["name"] + ("?" if i["optional"] else "") for i in r["inputs"]) or "-"
        print(f"{r['type']} ({r['kind']}): {r['doc']}")
        print(f"  inputs: {ins}   outputs: {', '.join(r['outputs'])}")
        for p in r["params"]:
            rng = p.get("range") or p.get("choices") or ""
            print(f"    {p['name']:<24} {p['kind']:<6} default={p['default']!s:<14} {rng}")


def cmd_generators(args: argparse.Namespace) -> int:
    from .nodes.generators import generator_specs

    rows = [_generator_row(n, s) for n, s in sorted(generator_specs().items())]
    if args.name:
        rows = [r for r in rows if r["type"] == args.name]
        if not rows:
            raise CliError(f"unknown generator {args.name!r}")
    _print_rows(rows, args.json)
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from .gallery import write_gallery
    from .nodes.generators import get_generator

    try:
        spec = get_generator(args.name)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None
    path = write_gallery(spec, Path(args.output), n=args.n, res=args.res, seed=args.seed)
    print(path)
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    from .examples import list_examples

    for name, desc in list_examples().items():
        print(f"{name:<18} {desc}")
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxymat", description="Inverse procedural material modeling with differentiable proxies.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("render", help="evaluate a graph and write its maps and flash render")
    p.add_argument("graph", help="graph JSON file or bundled example name")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--res", type=_res, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bit depth of color maps (height/normal are 16-bit)")
    p.add_argument("--normal-format", choices=("gl", "dx"), default="gl")
    p.add_argument("--model", choices=("match", "cook_torrance"), default="match", help="render model")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("nodes", help="list filter nodes and their parameters")
    p.add_argument("type", nargs="?", help="show one node type")
    p.add_argument("--all", action="store_true", help="include generators")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_nodes)

    p = sub.add_parser("generators", help="list generators and their parameters")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_generators)

    p = sub.add_parser("gallery", help="write a grid of random samples of a generator")
    p.add_argument("name")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--n", type=positive_int, default=16)
    p.add_argument("--res", type=_res, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gallery)

    p = sub.add_parser("examples", help="list the bundled example graphs")
    p.set_defaults(func=cmd_examples)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Commands living in their own modules (registered without importing torch)."""
    from .cli_extra import REGISTRARS

    return list(REGISTRARS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the exact command, for `bench --record`
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return run_command(args.func, args)


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command, mapping expected failures to a one-line error and exit 2."""
    from .errors import expected_errors

    try:
        return func(args)
    except KeyboardInterrupt:
        print("proxymat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except expected_errors() as err:  # type: ignore[misc]
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"proxymat: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

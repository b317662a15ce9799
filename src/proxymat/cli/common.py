"""What every command shares: the one-line error, argparse value types, the device and graph arguments.

Nothing here imports torch at import time, so building the parser stays fast.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from ..resolution import MAP_RES, ResolutionRule


class CliError(Exception):
    """An expected failure, reported as one line."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input or environment, not a bug."""
    from ..graph import GraphError
    from ..io import ImageError
    from ..optimize.loss_ps import PlenopticMissing
    from ..params import ParamError
    from ..plugin import PluginError
    from ..proxy.weights import ProxyWeightsError

    return (CliError, GraphError, ImageError, ParamError, OSError, MemoryError, ProxyWeightsError, PluginError,
            PlenopticMissing)


def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    """Give a command ``--plugin FILE.py`` (repeatable): generators of the user's own (docs/plugins.md)."""
    parser.add_argument("--plugin", action="append", metavar="FILE.py",
                        help="load the generators this plugin file defines (repeatable; installed plugin packages, "
                             "entry point group proxymat.generators, load without it): docs/plugins.md")


def plugin_scope(args: argparse.Namespace) -> ContextManager[None]:
    """For a command with ``--plugin``: a block in which its plugin files' and the installed plugins' generators
    exist, loaded at the first generator lookup (after the command has chosen its threads and imported torch)."""
    if not hasattr(args, "plugin"):
        return nullcontext()
    from ..nodes.plugin_scope import plugin_generators

    files = tuple(args.plugin or ())

    def load() -> Any:
        from ..plugin_loader import load_plugins

        return load_plugins(files)

    return plugin_generators(load)


def proxy_files(items: list[str] | None) -> dict[str, str]:
    """``--proxy GENERATOR=FILE`` options as ``{generator: file}``; CliError for any other form."""
    bad = [item for item in items or [] if item.count("=") != 1 or item.startswith("=") or item.endswith("=")]
    if bad:
        raise CliError(f"--proxy expects GENERATOR=FILE, got {bad[0]!r}")
    return dict(item.split("=", 1) for item in items or [])


def torch_device(name: str) -> Any:
    """The ``torch.device`` that ``--device NAME`` asks for; CliError if it is invalid or CUDA is missing."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CliError(f"device {name!r} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise CliError(f"invalid device {name!r}: {err}") from None


def load_graph(ref: str) -> Any:
    """The graph a command's GRAPH argument names: a JSON file or a bundled example."""
    from ..examples import resolve_graph

    return resolve_graph(ref)


def checked(value: str, parse: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
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
    return checked(value, int, lambda n: n >= 1, "a positive integer")


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    return checked(value, int, lambda n: n >= 0, "an integer >= 0")


def at_least_one(value: str) -> float:
    """argparse type: a finite number >= 1."""
    return checked(value, float, lambda x: 1.0 <= x < float("inf"), "a number >= 1")


def fraction(value: str) -> float:
    """argparse type: a number in [0, 1]."""
    return checked(value, float, lambda x: 0.0 <= x <= 1.0, "a number in [0, 1]")


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0."""
    return checked(value, float, lambda x: 0.0 < x < float("inf"), "a positive number")


def resolution_type(rule: ResolutionRule) -> Callable[[str], int]:
    """argparse type: an integer resolution that ``rule`` accepts, else its one-line problem."""

    def parse(value: str) -> int:
        try:
            res = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"resolution must be an integer, got {value!r}") from None
        problem = rule.problem(res)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return res

    return parse


map_res = resolution_type(MAP_RES)
"""argparse type of the map commands' ``--res`` (render, export, gallery, bench)."""


def choose_threads(args: argparse.Namespace, spin_when_idle: bool = False) -> None:
    """Set ``args.threads`` for a long-running command by :func:`proxymat.threads.configure` (an OpenMP wait
    policy, the free CPUs unless ``--threads`` or ``OMP_NUM_THREADS`` says) and log the choice.
    Call it before torch is imported: the wait policy is read when torch starts its threads."""
    from ..threads import configure

    choice = configure(args.threads, spin_when_idle=spin_when_idle)
    args.threads = choice.threads
    print(choice.describe(), flush=True)

"""The ``proxymat`` parser and entry point.

Every command turns expected failures (bad graph, bad image, unwritable output)
into one line on stderr and exit status 2; nothing is half written.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from . import bench, examples, export, fit, gallery, library, nodes, optimize, proxy, render
from .common import expected_errors, plugin_scope

COMMANDS = (render, nodes, gallery, examples, library, fit, optimize, proxy, export, bench)
"""The command modules, in the order ``--help`` lists them; each has ``register(sub)``."""


def build_parser() -> argparse.ArgumentParser:
    """The whole ``proxymat`` parser (no torch import)."""
    parser = argparse.ArgumentParser(prog="proxymat", description="Inverse procedural material modeling with differentiable proxies.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the exact command, for `bench --record`
    if args.version:
        from .. import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return run_command(args.func, args)


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command, mapping expected failures to a one-line error and exit 2."""
    try:
        with plugin_scope(args):
            return func(args)
    except KeyboardInterrupt:
        print("proxymat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except expected_errors() as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"proxymat: error: {msg}", file=sys.stderr)
        return 2

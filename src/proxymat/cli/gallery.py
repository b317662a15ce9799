"""``proxymat gallery``: write a grid of random samples of a generator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import CliError, add_plugin_argument, map_res, non_negative_int, positive_int


def run_gallery(args: argparse.Namespace) -> int:
    """Write the generator's gallery image and parameters; print the image's path."""
    from ..gallery import write_gallery
    from ..nodes.generators import get_generator

    try:
        spec = get_generator(args.name)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None
    path = write_gallery(spec, Path(args.output), n=args.n, res=args.res, seed=args.seed)
    print(path)
    return 0


def register(sub: Any) -> None:
    """Add ``gallery`` to an argparse sub-parser collection."""
    p = sub.add_parser("gallery", help="write a grid of random samples of a generator")
    p.add_argument("name", help="generator name (proxymat generators lists them)")
    p.add_argument("-o", "--output", required=True, help="output folder for NAME_gallery.png and NAME_gallery.json")
    p.add_argument("--n", type=positive_int, default=16, help="number of samples, 1..256 (default 16)")
    p.add_argument("--res", type=map_res, default=128, help="resolution of each sample in pixels (default 128)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the random parameters and of the generator's layout (default 0)")
    add_plugin_argument(p)
    p.set_defaults(func=run_gallery)

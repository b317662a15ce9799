"""The optimizer options that ``optimize`` and ``bench recovery`` share: declared once, read once.

``optimize`` states what each option does; ``bench recovery`` points back to it
("as optimize --X"). Both read the chosen values with :func:`pipeline_settings`
into :class:`~proxymat.optimize.config.OptimizeConfig` fields of the same name.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ..optimize.config import GRADIENTS, config_default
from .common import non_negative_int, positive_int

PIPELINE_OPTIONS: tuple[tuple[str, Callable[[str], int], str], ...] = (
    ("count_search", non_negative_int,
     "after Stage I, rank every combination of each generator's counts (integer parameters: bricks per row and "
     "column, tiles per side) by how well the render's normalized power spectrum matches the target's, as is and "
     "with its slope removed, re-fit the filters to the N best of the two rankings (longer for a close runner-up) "
     "and keep the best loss (0: off; default %(default)s)"),
    ("sweep_counts", non_negative_int,
     "the category sweep also tries every count (an integer generator parameter: bricks per row, cells per side) "
     "at its value +-1, 2, ..., 2^(N-1) with its filters re-fit (0: off; default %(default)s)"),
    ("sweep_noise", non_negative_int,
     "the category sweep keeps a change only when it lowers the loss by more than half of what the loss differs "
     "between the current graph's layout and N other layout seeds (0: off; default %(default)s)"),
    ("polish_layouts", positive_int,
     "the polish compares the loss averaged over N layouts (the graph's seed and the N - 1 next ones), so that it "
     "does not fit one layout's chance features; costs N times the renders (default %(default)s)"),
    ("search_layouts", positive_int,
     "Stage II's search picks its start among the re-fit candidates by their loss averaged over N layouts (the "
     "graph's seed and the N - 1 next ones), not by one layout's chance features (default %(default)s)"),
)
"""(``OptimizeConfig`` field, argument type, help) of each shared option; its flag is the field with dashes."""

GRADIENTS_HELP = (
    "how Stage II moves generator parameters: through their proxies (proxy); by autograd through the real "
    "generator where it declares direct parameters, proxies for the rest (direct); through a proxy where one fits "
    "and by autograd for the other generators (auto); or along the proxies' gradients with the real generators' "
    "output forward (straight); or straight where a proxy fits and by autograd for the other generators "
    "(straight+direct) (default: %(default)s)")


def flag(name: str) -> str:
    """The command-line flag of the ``OptimizeConfig`` field ``name``."""
    return "--" + name.replace("_", "-")


def add_pipeline_options(parser: argparse.ArgumentParser, echo: bool = False) -> None:
    """Declare ``--gradients`` and the :data:`PIPELINE_OPTIONS` on ``parser``, defaults from ``OptimizeConfig``
    (``echo``: help that points back to ``optimize``'s)."""
    parser.add_argument("--gradients", choices=GRADIENTS, default=config_default("gradients"),
                        help="as optimize --gradients (default %(default)s)" if echo else GRADIENTS_HELP)
    for name, kind, text in PIPELINE_OPTIONS:
        parser.add_argument(flag(name), type=kind, default=config_default(name), metavar="N",
                            help=f"as optimize {flag(name)} (default %(default)s)" if echo else text)


def pipeline_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``OptimizeConfig`` fields the options of :func:`add_pipeline_options` set, from parsed ``args``."""
    return {"gradients": args.gradients, **{name: getattr(args, name) for name, _, _ in PIPELINE_OPTIONS}}

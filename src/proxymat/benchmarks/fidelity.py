"""E1, proxy fidelity: each shipped proxy against its real generator on held-out parameters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from ..nodes.generators import get_generator
from ..proxy.metrics import evaluate_proxy, proxy_grid
from ..proxy.status import GOAL_L1, GOAL_SSIM, GOAL_TEXTURE, train_hours
from ..proxy.weights import load_proxy, proxy_generator


def fidelity_row(name: str, n_eval: int, figures: Path | None = None) -> dict[str, Any]:
    """The E1 row of the shipped proxy ``name``: L1, SSIM, Gram and the flat-image floor over ``n_eval``
    held-out parameter vectors (drawn with what the proxy pins: a variant such as ``cells@f1`` is scored on
    its own category), with its training steps and hours; with ``figures``, a real-vs-proxy grid
    ``e1_NAME.png`` there (its path in ``grid``)."""
    spec = get_generator(proxy_generator(name))
    proxy = load_proxy(name, spec=spec)
    spec = replace(spec, fixed=proxy.fixed)
    row = {"bench": "proxy_fidelity", "generator": name, **evaluate_proxy(proxy, spec, n=n_eval),
           "train_steps": proxy.training_info.get("steps"), "train_hours": train_hours(proxy)}
    if figures is not None:
        row["grid"] = str(proxy_grid(proxy, spec, figures / f"e1_{name}.png"))
    return row


def fidelity_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of E1 rows, with the flat-image floor, the texture distance against the flat image's and
    the real generator's at another seed, and whether the goal is met (L1, SSIM and, where measured, Gram <=
    GOAL_TEXTURE x the flat image's)."""
    lines = ["| generator | res | steps | training (h) | L1 | SSIM | Gram | Gram / flat's | Gram: other seed | "
             "flat image: L1 | flat image: SSIM | goal |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        hours = "-" if r.get("train_hours") is None else f"{r['train_hours']:.2f}"
        ratio = r["gram"] / r["flat_gram"] if r.get("flat_gram") else None
        met = r["l1"] <= GOAL_L1 and r["ssim"] >= GOAL_SSIM and (ratio is None or ratio <= GOAL_TEXTURE)
        seed = f"{r['seed_gram']:.3f}" if r.get("seed_gram") is not None else "-"
        lines.append(f"| {r['generator']} | {r['res']} | {r.get('train_steps') or '-'} | {hours} | {r['l1']:.3f} | "
                     f"{r['ssim']:.2f} | {r['gram']:.3f} | {'-' if ratio is None else f'{ratio:.2f}'} | {seed} | "
                     f"{r['flat_l1']:.3f} | {r['flat_ssim']:.2f} | {'met' if met else 'not met'} |")
    return "\n".join(lines)

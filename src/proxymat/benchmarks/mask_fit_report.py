"""Benchmark E4's reporting: merged rows, the markdown table, the loss-against-time curves and the
per-target image rows (the fitting itself is :mod:`proxymat.benchmarks.mask_fit`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from ..io import resize_square

if TYPE_CHECKING:
    from .mask_fit import BoxSpace

PROXY_INIT = "proxy_then_powell_bo"  # Powell + BO started from the proxy + Adam result
PROXY_DIRECT = "proxy_then_direct"  # direct + Adam started from the proxy + Adam result
HYBRID_REFERENCE = {PROXY_INIT: "powell_bo", PROXY_DIRECT: "powell_bo_schedule"}  # whose final loss each must reach


def merge_rows(*row_lists: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of several E4 runs of the same targets (e.g. one per gradient-free method), each
    (target, method) once, the first seen kept; ordered by target, then first appearance."""
    seen: dict[tuple[int, str], dict[str, Any]] = {}
    for rows in row_lists:
        for r in rows:
            seen.setdefault((r["target"], r["method"]), r)
    return sorted(seen.values(), key=lambda r: r["target"])  # stable: keeps the order within a target


def write_curves(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """One panel per target: each method's best real loss against seconds (log-log), with the
    proxy fit's final loss and the reachable loss (true parameters) as grey lines."""
    from ..report import plot_time_curves, save_panels

    panels = []
    for t in sorted({r["target"] for r in rows}):
        mine = [r for r in rows if r["target"] == t and r.get("history")]
        if not mine:
            continue
        levels = {f"{r['method']} final": r["loss"] for r in mine if r["method"] == "proxy_adam"}
        if "true_params_loss" in mine[0]:
            levels["reachable"] = mine[0]["true_params_loss"]
        curves = {r["method"]: [*r["history"], [r["seconds"], r["loss"]]] for r in mine}  # flat to the run's end
        panels.append(plot_time_curves(curves, levels, title=f"target {t}"))
    if not panels:
        raise ValueError("no rows with a history (the improvements of a method over time) to plot")
    return save_panels(panels, path)


def write_figure(space: BoxSpace, proxy: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor,
                 rows: Sequence[dict[str, Any]], res: int, path: Path) -> Path:
    """One target's row of images: the target, the proxy's output at the proxy+Adam result,
    then the real mask at each method's result (``rows`` in order, proxy+Adam first)."""
    from ..report import comparison

    images = {"target": target}
    with torch.no_grad():
        images["proxy output"] = resize_square(proxy(space.proxy_input(torch.tensor([rows[0]["x"]]))), res)
        for r in rows:
            images["proxy+Adam" if r["method"] == "proxy_adam" else r["method"]] = space.render(
                torch.tensor([r["x"]]), res)
    path.parent.mkdir(parents=True, exist_ok=True)
    return comparison({k: v.expand(-1, 3, -1, -1) for k, v in images.items()}, path)


def best_at(history: Sequence[Sequence[float]], seconds: float) -> float | None:
    """The best loss a ``[seconds, best loss]`` history had at ``seconds`` (None: nothing evaluated yet)."""
    found = [v for t, v in history if t <= seconds + 1e-9]
    return found[-1] if found else None


def summarize(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the E4 rows. "Reachable" is the loss at the target's true parameters
    (another layout seed), i.e. what a perfect parameter fit scores; "at proxy+Adam's time" is a
    gradient-free method's best loss when the proxy fit of its target ended (the equal-time
    comparison; from the rows' histories)."""
    lines = ["| target | method | final loss | seconds | renders | time to proxy+Adam's loss | speed-up "
             "| loss at proxy+Adam's time | reachable loss | time to it |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    proxy_seconds = {r["target"]: r["seconds"] for r in rows if r["method"] == "proxy_adam"}
    for r in rows:
        at = None
        if r["method"] not in ("proxy_adam", *HYBRID_REFERENCE) and r.get("history") and r["target"] in proxy_seconds:
            at = best_at(r["history"], proxy_seconds[r["target"]])
        at_cell = "-" if at is None else f"{at:.4f}"
        if r["method"] == "proxy_adam":
            reach, speed = "-", "-"
        elif r["method"] in HYBRID_REFERENCE:
            ref_method = HYBRID_REFERENCE[r["method"]]
            tt = r.get(f"time_to_{ref_method}_loss")
            reach, speed = ("-" if tt is None else f"{tt:.1f} s to {ref_method}'s final loss"), "-"
        elif r.get("time_to_proxy_loss") is None:
            reach, speed = "never", f"> {r['speedup_lower_bound']:.1f}x"
        else:
            reach, speed = f"{r['time_to_proxy_loss']:.1f} s", f"{r['speedup']:.1f}x"
        if "true_params_loss" in r:
            tt = r.get("time_to_true_params_loss")
            reachable, to_it = f"{r['true_params_loss']:.4f}", "never" if tt is None else f"{tt:.1f} s"
        else:
            reachable, to_it = "-", "-"
        lines.append(f"| {r['target']} | {r['method']} | {r['loss']:.4f} | {r['seconds']:.1f} | {r['renders']} | "
                     f"{reach} | {speed} | {at_cell} | {reachable} | {to_it} |")
    return "\n".join(lines)

"""How good each shipped proxy is: its recorded held-out fidelity against the goal and a flat image."""

from __future__ import annotations

from typing import Any

from .weights import below_flat_floor, load_proxy, shipped_proxy_names

GOAL_L1, GOAL_SSIM = 0.05, 0.8  # the fidelity goal of the shipped proxies (docs/RESULTS.md, E1)
GOAL_TEXTURE = 0.25  # and the texture (Gram) distance at most this share of a flat image's


def proxy_status(metrics: dict[str, Any]) -> str:
    """One word on a proxy's recorded held-out fidelity: meets the goal, weak, unused (no better than
    a flat image, so ``optimize`` leaves it out), or unmeasured."""
    l1, ssim = metrics.get("l1"), metrics.get("ssim")
    if not isinstance(l1, (int, float)) or not isinstance(ssim, (int, float)):
        return "unmeasured"
    if below_flat_floor(metrics):
        return "unused"
    return "meets goal" if l1 <= GOAL_L1 and ssim >= GOAL_SSIM else "weak"


def train_hours(proxy: Any) -> float | None:
    """A proxy's training cost in hours: ``metrics.train_hours`` where recorded (for runs whose first part
    predates the ``seconds_total`` field), else the logged ``seconds_total`` of its training."""
    recorded = proxy.metrics.get("train_hours")
    if isinstance(recorded, (int, float)):
        return round(float(recorded), 2)
    info = proxy.training_info
    seconds = info.get("seconds_total", info.get("seconds_this_run"))
    return round(float(seconds) / 3600, 2) if isinstance(seconds, (int, float)) else None


def proxy_rows() -> list[dict[str, Any]]:
    """One row per shipped proxy: resolution, inputs, training steps and hours, recorded fidelity, status."""
    rows = []
    for name in shipped_proxy_names():
        proxy = load_proxy(name)
        info, m = proxy.training_info, proxy.metrics
        rows.append({"name": name, "res": proxy.res, "params": len(proxy.param_names), "steps": info.get("steps"),
                     "train_hours": train_hours(proxy),
                     **{k: m.get(k) for k in ("l1", "ssim", "flat_l1", "flat_ssim")}, "status": proxy_status(m)})
    return rows

"""The optimizer's Adam loop in normalized parameter space, with checkpoints within it.

Stages I and III, the category sweep's re-fits and Stage II all run
:func:`adam`: Adam on a dict of normalized parameter tensors, clamped to [0, 1]
(or to given bounds, e.g. a graph's free ranges or a proxy's sampling box)
after each step, keeping the values with the lowest loss.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch

from .records import Values

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost


def adam(ev: Evaluator, host: StageHost, values: Values, evaluate: Callable[[Values], torch.Tensor], iters: int, lr: float,
         desc: str, bounds: Mapping[str, tuple[float, float]] | None = None,
         monitor: Callable[[int, Values], bool] | None = None, check_every: int = 0,
         record_frames: bool = True, stage: str | None = None,
         resumed: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> tuple[Values, list[float]]:
    """Adam in normalized space, clamped to [0, 1] (or ``bounds``); returns the best values seen and the loss curve.

    ``evaluate`` renders the values; ``ev`` gives the loss, the device and the log, ``host`` the
    bars, the frames and the checkpoints. With ``monitor`` and ``check_every``, ``monitor(it, values)`` runs before
    iterations 0, ``check_every``, ... and after the last one; it returning True ends the loop early.
    With ``stage``, a checkpoint is saved at the start of an iteration once ``checkpoint_every``
    seconds have passed (the loop's state, the monitor's ``state()`` and ``extra``); ``resumed``
    (such a saved state) continues the loop where it was saved, with the same results. Without a monitor,
    the last iteration takes no step (nothing would evaluate its values)."""
    bounds = bounds or {}
    if not values:  # nothing to move (e.g. a graph whose free parameters are all generator parameters)
        return {}, []
    params = {k: v.detach().clone().to(ev.device).requires_grad_(True) for k, v in values.items()}
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    best_loss, best = math.inf, {k: v.detach().clone() for k, v in params.items()}
    curve: list[float] = []
    first = 0
    if resumed is not None:
        first, best_loss, curve = resumed["it"], resumed["best_loss"], list(resumed["curve"])
        best = {k: v.to(ev.device) for k, v in resumed["best"].items()}
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(resumed["params"][k])
        groups = opt.state_dict()["param_groups"]
        opt.load_state_dict({"state": {int(i): st for i, st in resumed["opt"].items()}, "param_groups": groups})
        if resumed.get("monitor") is not None and hasattr(monitor, "restore"):
            monitor.restore(resumed["monitor"])  # type: ignore[union-attr]
    watched = monitor is not None and check_every > 0
    bar = host.bars.loop(range(first, iters), desc=desc)
    for it in bar:
        if stage is not None and host.checkpoint_due():
            host.save_checkpoint({
                "stage": stage, "it": it, "elapsed": time.perf_counter() - host.stage_t0, "params": params,
                "opt": opt.state_dict()["state"], "best_loss": best_loss, "best": best, "curve": curve,
                "monitor": monitor.state() if hasattr(monitor, "state") else None, **(extra or {})})  # type: ignore[union-attr]
        if monitor is not None and check_every > 0 and it % check_every == 0 and monitor(it, params):
            break
        img = evaluate(params)
        loss = ev.loss(img)
        value = loss.item()
        if not math.isfinite(value):
            ev.log(f"{desc}: loss became {value} at iteration {it}; stopping this stage early")
            break
        curve.append(value)
        if value < best_loss:
            best_loss, best = value, {k: v.detach().clone() for k, v in params.items()}
        if record_frames and it % ev.config.frame_every == 0:
            host.save_frame(img)
        if not loss.requires_grad:  # no moving parameter reaches the loss (e.g. free ones without a proxy)
            break
        if it < iters - 1 or watched:  # the last step's values are read only by the monitor
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k, v in params.items():
                    v.clamp_(*bounds.get(k, (0.0, 1.0)))
        bar.set_postfix(loss=f"{value:.4f}")
    else:
        if watched and iters > 0:
            monitor(iters, params)
    return best, curve

"""Stage II: joint Adam on filter and generator parameters through the proxies, watched by the real generators.

Stage II starts from the random search's choice (:mod:`.search`). Proxy-driven
parameters stay inside the sampling box their proxy was trained on. Every
``stage2_check`` iterations the current values are rendered with the real
generators (:class:`RealCheck`); Stage II keeps the values with the lowest real
loss (the last proxy-loss best competes too) and stops once ``stage2_patience``
checks in a row bring no real gain, since the proxies then only chase their own
error (``stage2_check=0``: the paper's fixed iteration count). With
``gradients="straight"`` or ``"straight+direct"`` (the default) the image each step scores is drawn
by the real generators and only the gradient comes from the proxies, so the loss Adam descends
is the real one; ``"proxy"`` draws with the proxies as the method does. With ``"straight+direct"``
the generator nodes no proxy fits move by autograd through the real generator (their declared
direct parameters).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .adam import adam
from .records import StageRecord, Values
from .search import RandomSearch

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost

STAGE2_MIN_GAIN = 1e-3  # relative drop of the real loss that counts as a gain at a Stage II check


class RealCheck:
    """Stage II's watch on the real generators: renders the values at each check, keeps the
    lowest real loss, and says when ``patience`` checks in a row brought no gain."""

    def __init__(self, loss_of: Callable[[Values], float], patience: int):
        self.loss_of = loss_of
        self.patience = max(int(patience), 1)
        self.best_loss = math.inf
        self.best_values: Values | None = None
        self.best_iter = -1
        self.stale = 0
        self.losses: list[tuple[int, float]] = []

    def __call__(self, it: int, values: Values) -> bool:
        """Check the values after ``it`` iterations; True means stop."""
        loss = self.loss_of(values)
        self.losses.append((it, loss))
        if loss < self.best_loss * (1.0 - STAGE2_MIN_GAIN) or self.best_values is None:
            self.stale = 0
        else:
            self.stale += 1
        if loss < self.best_loss:
            self.best_loss, self.best_iter = loss, it
            self.best_values = {k: v.detach().clone() for k, v in values.items()}
        return self.exhausted

    @property
    def exhausted(self) -> bool:
        """True once ``patience`` checks in a row brought no gain."""
        return self.stale >= self.patience

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the watch (see :meth:`restore`)."""
        return {"best_loss": self.best_loss if math.isfinite(self.best_loss) else None, "best_values": self.best_values,
                "best_iter": self.best_iter, "stale": self.stale, "losses": [list(x) for x in self.losses]}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state` saved by a killed run."""
        self.best_loss = math.inf if state["best_loss"] is None else float(state["best_loss"])
        self.best_values = state["best_values"]
        self.best_iter, self.stale = int(state["best_iter"]), int(state["stale"])
        self.losses = [(int(i), float(v)) for i, v in state["losses"]]


def stage2(ev: Evaluator, host: StageHost) -> None:
    """Stage II of the evaluator's graph (see the module docstring)."""
    config = ev.config
    t0, resumed = host.stage_begin("stage2")
    start = ev.real_loss()
    gen_now = ev.values("generators")
    filters = ev.values("filters")
    if resumed is None or "search" in resumed:  # a killed run's search goes on from its finished batches
        search = RandomSearch(ev, host)
        filters, gen_now, note = search.choose_start(filters, gen_now, None if resumed is None else resumed["search"])
        resumed = None
    else:  # the search was done by the killed run: its Adam loop goes on
        note = resumed["note"]
        gen_now = {k: resumed["params"][k] for k in gen_now}
    # Proxy-driven parameters stay inside the sampling box the proxy was trained on.
    bounds = {**(ev.free or {}),
              **{k: b for k, b in ev.generator_bounds().items() if k.split(".")[0] in ev.proxy_nodes}}
    values = {**filters, **gen_now}
    check = RealCheck(ev.values_loss, config.stage2_patience) if config.stage2_check > 0 else None
    program = ev.graph.compile()
    best, curve = adam(ev, host, values, lambda p: ev.render_values(program, p, hook=ev.proxy_hook),
                       config.iters2, config.lr2, "Stage II (joint, proxies)", bounds=bounds,
                       monitor=check, check_every=config.stage2_check, stage="stage2", resumed=resumed,
                       extra={"note": note})
    ev.set_values(best)
    end, host.renders["stage2"] = ev.real_eval()
    if check is not None:
        note = "; ".join(filter(None, [note, check_note(ev, check, len(curve), end)]))
        if check.best_values is not None and check.best_loss < end:
            ev.set_values(check.best_values)
            end, host.renders["stage2"] = ev.real_eval()
    host.records.append(StageRecord("stage2", start, end, curve, time.perf_counter() - t0, note))
    if ev.direct_nodes:
        ev.log(f"Stage II: direct gradients through the real generator for node(s) {', '.join(sorted(ev.direct_nodes))}")
    missing = sorted({k.split(".")[0] for k in gen_now} - set(ev.proxy_nodes) - set(ev.direct_nodes))
    if missing:
        ev.log(f"Stage II: no proxy for node(s) {', '.join(missing)}; their parameters only move by random search"
               + (" and the polish" if config.polish > 0 else ""))
    ev.log(f"Stage II: loss (real generators) {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")


def check_note(ev: Evaluator, check: RealCheck, iters_run: int, proxy_best_loss: float) -> str:
    """What the real-generator checks decided, for the log and the stage record."""
    iters2 = ev.config.iters2
    parts = []
    if check.exhausted and iters_run < iters2:
        parts.append(f"stopped after {iters_run} of {iters2} iterations: no real-generator gain "
                     f"in {check.patience} checks")
    if check.best_values is not None and check.best_loss < proxy_best_loss:
        parts.append(f"kept iteration {check.best_iter} (real loss {check.best_loss:.4f}, "
                     f"against {proxy_best_loss:.4f} at the lowest proxy loss)")
    text = "; ".join(parts)
    if text:
        ev.log(f"Stage II: {text}")
    return text

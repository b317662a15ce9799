"""Progress bars of an optimize run: one overall bar with an ETA for the whole run, one bar per loop beneath it.

Bars are drawn only when asked for *and* stderr is a terminal (:func:`bars_wanted`):
a log file or a pipe gets none. The overall bar counts the run's planned work
(:func:`planned_work`) in units of about one rendered image with its gradient;
each loop advances it by its own units per step, and a finished stage moves it
to that stage's planned end (a stage that stops early, such as Stage II without
real-generator gains, skips the rest of its share). Its ETA is tqdm's estimate
from the rate so far.
"""

from __future__ import annotations

import math
import sys
from typing import IO, Any, Iterable, Iterator, Mapping

NO_GRAD = 0.35  # units of one real-generator render without a gradient (polish, search, checks): an estimate


def bars_wanted(requested: bool, stream: IO[str] | None = None) -> bool:
    """True when bars were requested and ``stream`` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(requested and isatty is not None and isatty())


def planned_work(config: Any, category_trials: int = 0, count_nodes: int = 0) -> dict[str, float]:
    """Units of work of each enabled stage of an :class:`~.config.OptimizeConfig` (``category_trials``:
    how many other category choices the graph offers the sweep; ``count_nodes``: how many generator nodes
    have counts for the count search; its share is the most it can take, as a stage that stops early skips
    the rest of its share)."""
    c = config
    plan: dict[str, float] = {}
    if c.stage1:
        plan["stage1"] = float(c.iters1)
    if c.stage2 and c.count_search > 0 and count_nodes:
        from .counts import most_refit_iterations

        plan["counts"] = float(count_nodes * most_refit_iterations(c.count_search, c.sweep_iters))
    if c.stage2 and c.sweep_iters > 0 and category_trials:
        plan["sweep"] = float((1 + min(category_trials, c.sweep_max)) * c.sweep_iters)
    if c.stage2:
        options = 2 if c.stage1 else 1  # the search also tries the initial filters after a Stage I
        search = options * (c.samples + c.rescore + 1) * NO_GRAD if c.random_search else 0.0
        refit = (c.search_refit + 2) * max(c.search_refit_iters, 1) if c.random_search and c.search_refit > 0 else 0
        checks = c.iters2 / c.stage2_check * NO_GRAD if c.stage2_check > 0 else 0.0
        plan["stage2"] = search + refit + c.iters2 + checks
        if c.polish > 0:
            plan["polish"] = math.ceil(c.polish / max(c.search_batch, 1)) * c.search_batch * NO_GRAD
    if c.stage3:
        plan["stage3"] = float(c.iters3)
    return plan


class LoopBar:
    """One loop's bar; every step also advances the overall bar by ``units``. Iterating it yields the
    items of ``iterable`` (and closes the bar at the end or when the loop is left)."""

    def __init__(self, run: "RunProgress", iterable: Iterable[Any] | None, total: int, desc: str, units: float):
        self.run, self.iterable, self.units = run, iterable, units
        self.bar = run.new_bar(total=total, desc=desc, position=1) if run.enabled else None

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self.iterable or ():
                yield item
                self.update(1)
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self.run.advance(n * self.units)

    def set_postfix(self, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(**kwargs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class RunProgress:
    """The overall bar of a run (``plan``: stage -> units; empty: no overall bar) and its loops' bars."""

    def __init__(self, plan: Mapping[str, float], requested: bool, file: IO[str] | None = None, desc: str = "optimize"):
        self.file = sys.stderr if file is None else file
        self.enabled = bars_wanted(requested, self.file)
        self.plan = dict(plan)
        self.finished: set[str] = set()
        self.overall = None
        if self.enabled and self.plan:
            self.overall = self.new_bar(total=round(sum(self.plan.values()), 1), desc=f"{desc} (all stages)", position=0,
                                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed} elapsed, ETA {remaining}]",
                                        leave=True)

    def new_bar(self, **kwargs: Any) -> Any:
        from tqdm.auto import tqdm

        return tqdm(file=self.file, dynamic_ncols=True, **{"leave": False, **kwargs})

    def loop(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
             units: float = 1.0) -> LoopBar:
        """A bar over ``iterable`` (or ``total`` steps advanced by ``update``)."""
        if total is None:
            total = len(iterable) if hasattr(iterable, "__len__") else 0  # type: ignore[arg-type]
        return LoopBar(self, iterable, int(total), desc, units)

    def advance(self, units: float) -> None:
        """Add ``units`` of work to the overall bar (never past the planned total)."""
        if self.overall is not None:
            room = self.overall.total - self.overall.n - 0.05
            if room > 0:
                self.overall.update(min(units, room))

    def finish_stage(self, name: str) -> None:
        """Move the overall bar to the planned end of ``name`` and every stage finished before it."""
        self.finished.add(name)
        if self.overall is not None:
            done = sum(u for stage, u in self.plan.items() if stage in self.finished)
            if done > self.overall.n:
                self.overall.update(done - self.overall.n)

    def close(self) -> None:
        if self.overall is not None:
            self.overall.close()
            self.overall = None

"""The objective of the gradient-free baselines: a graph's parameters as one vector, its loss, budgets.

Every method of :mod:`.gradient_free` works on one vector ``x`` in ``[0, 1]^d``
laid out by a :class:`~proxymat.param_space.Layout` of the graph's
:class:`~proxymat.param_space.ParamSpace`. :class:`Objective` turns ``x`` into a loss
(``f``) or a batch of losses (``f_batch``, one batched graph evaluation: much
faster than one by one), keeps the best point and a ``(seconds, evaluations,
best loss)`` history, and stops the method by raising :class:`BudgetExhausted`
once its time or evaluation budget is spent (:func:`guard` catches it).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch

from ..graph import Graph
from ..render import Renderer, RenderSettings
from .loss import MaterialLoss

PENALTY = 1e6  # loss reported to the methods for non-finite evaluations


class BudgetExhausted(Exception):
    """Raised by :class:`Objective` when its time or evaluation budget is spent."""


def snap(x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and move discrete coordinates (``steps > 0``) onto their grid."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    disc = steps > 0
    if disc.any():
        s = np.broadcast_to(steps, x.shape)[..., disc] if x.ndim > 1 else steps[disc]
        x = x.copy()
        x[..., disc] = np.clip(np.round(x[..., disc] / s) * s, 0.0, 1.0)
    return x


def layout_seeds(seed: int, layouts: int) -> list[int]:
    """The graph seeds of ``layouts`` layouts averaged by a layout-averaged loss: ``seed`` and the next ones."""
    return [seed + k for k in range(layouts)]


def reseeded(graph: Graph, seed: int) -> Graph:
    """A copy of ``graph`` at another layout seed."""
    g = graph.copy()
    g.seed = seed
    return g


# ------------------------------------------------------------------------ objective
class Objective:
    """Loss of a graph's parameter vector against a target, with budgets and history.

    ``time_budget_s`` counts from :meth:`start` (called by the first evaluation
    if not before); ``max_evals`` counts graph evaluations. ``batch_size``
    bounds how many candidates one graph evaluation holds; the time budget is
    checked between such chunks, so a batch overruns it by at most one chunk.
    ``observer``, when set, is called after each recorded chunk (e.g. by
    :func:`budget_bar`). With ``layouts`` N > 1 a point's loss is the mean over
    N layouts: the graph's seed and the N - 1 next ones (:func:`layout_seeds`, as the sweep's layout noise),
    so that a search does not fit one layout's chance features.
    """

    observer: Callable[["Objective"], None] | None = None

    def __init__(self, graph: Graph, target: torch.Tensor, loss: MaterialLoss, *, res: int | None = None,
                 settings: RenderSettings = RenderSettings(), time_budget_s: float | None = None,
                 max_evals: int | None = None, batch_size: int = 16, device: torch.device | str = "cpu",
                 layouts: int = 1):
        if layouts < 1:
            raise ValueError(f"layouts must be >= 1, got {layouts}")
        self.graph = graph.copy()
        self.target = target
        self.loss = loss
        self.res = int(res or graph.res)
        self.settings = settings
        self.renderer = Renderer(settings)
        self.device = torch.device(device)
        self.program = self.graph.compile()  # validated once; every evaluation reuses it
        self.programs = [self.program] + [reseeded(self.graph, s).compile() for s in layout_seeds(graph.seed, layouts)[1:]]
        self.layout = self.graph.space().layout()  # the parameters an optimizer moves, in graph order
        self._init_search(self.from_values(self.graph.normalized("all", optimizable_only=True)),
                          time_budget_s, max_evals, batch_size)

    def _init_search(self, x0: np.ndarray, time_budget_s: float | None, max_evals: int | None,
                     batch_size: int) -> None:
        """Check the budget and reset the search state (best point, history, clock) at ``x0``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_evals is not None and max_evals < 1:
            raise ValueError(f"max_evals must be >= 1, got {max_evals}")
        if time_budget_s is not None and not time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0, got {time_budget_s}")
        self.time_budget_s = time_budget_s
        self.max_evals = max_evals
        self.batch_size = int(batch_size)
        self.x0 = np.asarray(x0, dtype=np.float64)
        self.best_x = self.x0.copy()
        self.best_loss = math.inf
        self.evaluations = 0
        self.history: list[tuple[float, int, float]] = []
        self._t0: float | None = None

    # ------------------------------------------------------------ vectors
    @property
    def dim(self) -> int:
        return self.layout.dim

    def to_values(self, x: np.ndarray) -> dict[str, torch.Tensor]:
        """Vector ``(d,)`` or batch ``(n, d)`` -> ``{"node.param": float32 (size,) or (n, size)}``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected vectors of {self.dim} values, got shape {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x)).float()
        return {k: t[..., s].clone() for k, s in zip(self.layout.keys, self.layout.slices)}

    def from_values(self, values: Mapping[str, torch.Tensor]) -> np.ndarray:
        """``{"node.param": (size,)}`` in layout order -> vector ``(d,)`` (float64)."""
        missing = [k for k in self.layout.keys if k not in values]
        if missing:
            raise KeyError(f"missing parameter value(s) {missing}")
        parts = [values[k].detach().reshape(-1).double().cpu().numpy() for k in self.layout.keys]
        return np.concatenate(parts) if parts else np.zeros(0)

    def snap(self, x: np.ndarray) -> np.ndarray:
        return snap(x, self.layout.steps)

    # ------------------------------------------------------------- budget
    def start(self) -> None:
        """Start the clock (idempotent)."""
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self._t0 is None else time.perf_counter() - self._t0

    def remaining_evals(self) -> int | None:
        return None if self.max_evals is None else max(self.max_evals - self.evaluations, 0)

    def exhausted(self) -> bool:
        out_of_time = self.time_budget_s is not None and self.elapsed() >= self.time_budget_s
        return out_of_time or self.remaining_evals() == 0

    def progress(self) -> float:
        """Fraction of the budget spent (the larger of time and evaluations), in [0, 1]."""
        fracs = [0.0]
        if self.time_budget_s is not None:
            fracs.append(self.elapsed() / self.time_budget_s)
        if self.max_evals is not None:
            fracs.append(self.evaluations / self.max_evals)
        return min(max(fracs), 1.0)

    # --------------------------------------------------------- evaluation
    def f(self, x: np.ndarray) -> float:
        """Loss at one point (raises :class:`BudgetExhausted` when the budget is spent)."""
        return float(self.f_batch(np.asarray(x, dtype=np.float64)[None])[0])

    def f_batch(self, X: np.ndarray) -> np.ndarray:
        """Losses ``(n,)`` of the points ``(n, d)``; non-finite losses become :data:`PENALTY`.

        Points beyond the budget are not evaluated: :class:`BudgetExhausted` is
        raised after recording the ones that were.
        """
        self.start()
        X = self.snap(np.atleast_2d(np.asarray(X, dtype=np.float64)))
        if self.exhausted():
            raise BudgetExhausted
        remaining = self.remaining_evals()
        n = X.shape[0] if remaining is None else min(X.shape[0], remaining)
        out = []
        for s in range(0, n, self.batch_size):
            if s and self.exhausted():
                raise BudgetExhausted
            chunk = X[s: min(s + self.batch_size, n)]
            losses = self._losses(chunk)
            self._record(chunk, losses)
            out.append(losses)
        if n < X.shape[0]:
            raise BudgetExhausted
        losses = np.concatenate(out)
        return np.where(np.isfinite(losses), losses, PENALTY)

    def _losses(self, X: np.ndarray) -> np.ndarray:
        values = {k: v.to(self.device) for k, v in self.to_values(X).items()}
        with torch.no_grad():
            losses = sum(self.loss.per_image(self.renderer(p.evaluate(self.res, values, device=self.device)))
                         for p in self.programs) / len(self.programs)
        losses = losses.double().cpu().numpy()
        return np.broadcast_to(losses, (X.shape[0],)).copy()

    def _record(self, X: np.ndarray, losses: np.ndarray) -> None:
        self.evaluations += X.shape[0]
        finite = np.where(np.isfinite(losses), losses, math.inf)
        i = int(np.argmin(finite))
        if finite[i] < self.best_loss:
            self.best_loss = float(finite[i])
            self.best_x = X[i].copy()
        self.history.append((self.elapsed(), self.evaluations, self.best_loss))
        if self.observer is not None:
            self.observer(self)

    # ------------------------------------------------------------ results
    def apply(self, graph: Graph, x: np.ndarray) -> None:
        """Write ``x`` into ``graph``; parameters whose coordinates equal ``x0`` keep their exact values."""
        x = self.snap(x)
        values = self.to_values(x)
        same = {k for k, s in zip(self.layout.keys, self.layout.slices) if np.array_equal(x[s], self.x0[s])}
        graph.set_normalized({k: v for k, v in values.items() if k not in same})

    def loss_at(self, x: np.ndarray) -> float:
        """Loss at ``x``, reusing the best loss when ``x`` is the best point (no new evaluation)."""
        x = self.snap(x)
        if math.isfinite(self.best_loss) and np.array_equal(x, self.best_x):
            return self.best_loss
        return self.f(x)

    def real_loss(self, graph: Graph) -> float:
        """Loss of the graph's own values (unbatched, real generators)."""
        with torch.no_grad():
            img = self.renderer(graph.evaluate(self.res, device=self.device))
            return float(self.loss(img))


@contextmanager
def budget_bar(objective: Objective, desc: str, enabled: bool = True, mininterval: float = 0.1) -> Iterator[None]:
    """A progress bar over ``objective``'s budget (seconds, else evaluations) with the best loss so far,
    while the block runs, redrawn at most every ``mininterval`` seconds; nothing when ``enabled`` is false."""
    from tqdm.auto import tqdm

    if not enabled:
        yield
        return
    by_time = objective.time_budget_s is not None
    total = math.ceil(objective.time_budget_s) if by_time else objective.max_evals
    bar = tqdm(total=total, desc=desc, unit="s" if by_time else " renders", leave=False, dynamic_ncols=True,
               mininterval=mininterval, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total}{unit}{postfix}")

    def show(obj: Objective) -> None:
        bar.n = min(obj.elapsed() if by_time else obj.evaluations, total)
        bar.set_postfix_str(f"best {obj.best_loss:.4f}, {obj.evaluations} renders", refresh=False)
        bar.update(0)  # redraws at most every tqdm mininterval

    objective.observer = show
    try:
        yield
    finally:
        objective.observer = None
        bar.close()


def guard(objective: Objective, run: Callable[[], Any]) -> np.ndarray:
    """Run a method until it ends or the budget runs out; return the best point seen."""
    try:
        run()
    except BudgetExhausted:
        pass
    return objective.best_x.copy()

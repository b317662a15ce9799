"""Gradient-free baselines that fit *all* graph parameters with the real generators.

These are the comparison points of the benchmark against the proxy pipeline
(:mod:`.stages`). Every method works on one vector ``x`` in ``[0, 1]^d``: the
concatenation, in :meth:`Graph.normalized` order (``"all"``,
``optimizable_only=True``), of the normalized tensors of the continuous filter
parameters and of *every* generator parameter (discrete ones included; the
graph rounds them). Discrete filter parameters (blend modes and the like) are
left at their values: a batch of graph evaluations cannot vary them.

* :class:`~.objective.Objective` (in :mod:`.objective`, re-exported here)
  turns ``x`` into a loss (``f``) or a batch of losses (``f_batch``, one
  batched graph evaluation: much faster than one by one), keeps the best point
  and a ``(seconds, evaluations, best loss)`` history, and stops the method by
  raising :class:`~.objective.BudgetExhausted` once its time or evaluation
  budget is spent.
* :func:`cma_es` (the ``cma`` package, IPOP restarts), :func:`simulated_annealing`
  (DiffMat's settings), :func:`powell_bo` (Hu et al. 2022's Powell / Bayesian
  optimization alternation, simplified) and :func:`random_search`.
* :func:`run_baseline` runs one of them on a graph and a target.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..graph import Graph
from ..render import RenderSettings
from .loss import LOSS_PRESETS, LossConfig, MaterialLoss
from ..param_space import Layout
from .objective import PENALTY, BudgetExhausted, Objective, budget_bar, guard, snap

__all__ = [
    "ALIASES", "BASELINES", "PENALTY", "BaselineResult", "BudgetExhausted", "Layout", "Objective", "budget_bar",
    "cma_es", "expected_improvement", "gp_posterior", "perturb", "powell_bo", "random_search", "rbf_kernel",
    "run_baseline", "simulated_annealing", "snap",
]  # fmt: skip

BASELINES: tuple[str, ...] = ("cma_es", "simulated_annealing", "powell_bo", "random_search")
ALIASES = {"cma": "cma_es", "sa": "simulated_annealing", "powell": "powell_bo", "random": "random_search"}


# ----------------------------------------------------------------------- CMA-ES
def cma_es(objective: Objective, x0: np.ndarray, sigma0: float = 0.2, popsize: int | None = None, seed: int = 0,
           max_restarts: int = 9) -> np.ndarray:
    """CMA-ES in [0, 1]^d (package ``cma``), one batched evaluation per generation.

    When CMA-ES converges before the budget is spent it restarts from the best
    point with twice the population (IPOP), at most ``max_restarts`` times.
    A 1-D problem gets a dummy second coordinate (``cma`` needs d >= 2).
    The global ``numpy.random`` state, which ``cma`` reseeds, is restored after.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cma warns when matplotlib is missing
        import cma
    d = objective.dim
    if d == 0:
        return objective.best_x.copy()
    pad = 1 if d == 1 else 0
    rng_state = np.random.get_state()

    def generations() -> None:
        start = np.clip(np.asarray(x0, dtype=np.float64), 0.0, 1.0)
        pop = popsize
        for restart in range(max_restarts + 1):
            opts = {"bounds": [0.0, 1.0], "seed": _cma_seed(seed, restart), "verbose": -9, "verb_log": 0,
                    "verb_disp": 0, "verb_plot": 0}
            if pop is not None:
                opts["popsize"] = pop
            es = cma.CMAEvolutionStrategy(np.concatenate([start, np.full(pad, 0.5)]).tolist(), sigma0, opts)
            while not es.stop():
                X = np.asarray(es.ask())
                es.tell(list(X), objective.f_batch(X[:, :d]).tolist())
            pop = 2 * es.popsize
            start = objective.best_x

    try:
        return guard(objective, generations)
    finally:
        np.random.set_state(rng_state)


def _cma_seed(seed: int, restart: int) -> int:
    """A nonzero seed for ``cma`` (0 would mean "from the clock")."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, restart]).generate_state(1)[0]) % (2**31 - 2) + 1


# ---------------------------------------------------------- simulated annealing
def simulated_annealing(objective: Objective, x0: np.ndarray, steps: int | None = 10_000, t_max: float = 5e-3,
                        t_min: float = 1e-6, perturb_prob: float = 0.1, perturb_scale: float = 0.05,
                        seed: int = 0) -> np.ndarray:
    """Simulated annealing with exponential cooling from ``t_max`` to ``t_min`` (DiffMat's defaults).

    Each step perturbs every coordinate with probability ``perturb_prob`` (at
    least one) by up to ``perturb_scale`` of its range; discrete coordinates move
    by at least one grid step. A worse point is accepted with probability
    ``exp(-increase / T)``. With ``steps=None`` the schedule follows the
    objective's budget (:meth:`Objective.progress`) instead of the step count.
    """
    rng = np.random.default_rng(seed)
    steps_d = objective.layout.steps

    def anneal() -> None:
        cur = objective.snap(x0)
        cur_loss = objective.loss_at(cur)
        k = 0
        while steps is None or k < steps:
            frac = objective.progress() if steps is None else k / max(steps - 1, 1)
            temp = t_max * (t_min / t_max) ** min(frac, 1.0)
            cand = perturb(cur, steps_d, rng, perturb_prob, perturb_scale)
            loss = objective.f(cand)
            if loss <= cur_loss or rng.random() < math.exp(-(loss - cur_loss) / temp):
                cur, cur_loss = cand, loss
            k += 1

    if objective.dim == 0:
        return objective.best_x.copy()
    return guard(objective, anneal)


def perturb(x: np.ndarray, steps: np.ndarray, rng: np.random.Generator, prob: float, scale: float) -> np.ndarray:
    """Move a random subset of coordinates (at least one) by up to ``scale``, reflecting at 0 and 1.

    Discrete coordinates (``steps > 0``) move by a whole, nonzero number of grid steps.
    """
    d = x.shape[0]
    mask = rng.random(d) < prob
    if not mask.any():
        mask[rng.integers(d)] = True
    delta = rng.uniform(-scale, scale, d)
    disc = steps > 0
    n_steps = np.maximum(np.round(np.abs(delta[disc]) / steps[disc]), 1.0)
    delta[disc] = np.where(delta[disc] < 0, -1.0, 1.0) * n_steps * steps[disc]
    new = x + np.where(mask, delta, 0.0)
    outside = (new < 0.0) | (new > 1.0)
    new[outside] = x[outside] - delta[outside]
    return snap(new, steps)


# ------------------------------------------------------------------ Powell + BO
def powell_bo(objective: Objective, x0: np.ndarray, rounds: int = 5, powell_maxiter: int = 2, bo_iters: int = 30,
              bo_candidates: int = 256, seed: int = 0) -> np.ndarray:
    """Hu et al. 2022's alternation: Powell on the continuous coordinates, then
    Bayesian optimization on the discrete ones, ``rounds`` times, and a final Powell.

    Simplifications: one BO over all discrete coordinates (the paper runs two,
    "important" then "inferior" parameters, 240 + 60 iterations, with GPyOpt);
    our GP is minimal (RBF kernel, length scale picked by marginal likelihood
    on a small grid) and expected improvement is maximized over random grid
    points plus the one-step neighbours of the best point.
    """
    rng = np.random.default_rng(seed)
    disc = objective.layout.discrete
    cont_idx, disc_idx = np.flatnonzero(~disc), np.flatnonzero(disc)

    def alternate() -> None:
        objective.loss_at(x0)
        for _ in range(rounds):
            _powell(objective, cont_idx, powell_maxiter)
            _bayes_discrete(objective, disc_idx, bo_iters, bo_candidates, rng)
        _powell(objective, cont_idx, powell_maxiter)

    if objective.dim == 0:
        return objective.best_x.copy()
    return guard(objective, alternate)


def _powell(objective: Objective, idx: np.ndarray, maxiter: int) -> None:
    """Bounded Powell (scipy) on coordinates ``idx``, the others fixed at the best point."""
    if idx.size == 0:
        return
    from scipy.optimize import minimize

    base = objective.best_x.copy()

    def fun(z: np.ndarray) -> float:
        x = base.copy()
        x[idx] = z
        return objective.loss_at(x)

    minimize(fun, base[idx], method="Powell", bounds=[(0.0, 1.0)] * idx.size,
             options={"maxiter": maxiter, "xtol": 1e-4, "ftol": 1e-4})


def _bayes_discrete(objective: Objective, idx: np.ndarray, iters: int, n_cand: int, rng: np.random.Generator) -> None:
    """GP + expected-improvement search over the discrete coordinates ``idx``."""
    if idx.size == 0 or iters <= 0:
        return
    base = objective.best_x.copy()
    steps = objective.layout.steps[idx]
    Z = [base[idx].copy()]
    y = [objective.best_loss]
    seen = {_grid_key(Z[0], steps)}
    for _ in range(iters):
        cands = _discrete_candidates(Z[int(np.argmin(y))], steps, n_cand, rng, seen)
        if cands.shape[0] == 0:
            return
        mu, sd = gp_posterior(np.asarray(Z), np.asarray(y), cands)
        z = cands[int(np.argmax(expected_improvement(mu, sd, min(y))))]
        x = base.copy()
        x[idx] = z
        Z.append(z)
        y.append(objective.f(x))
        seen.add(_grid_key(z, steps))


def _grid_key(z: np.ndarray, steps: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.round(z / steps))


def _discrete_candidates(best: np.ndarray, steps: np.ndarray, n: int, rng: np.random.Generator,
                         seen: set[tuple[int, ...]]) -> np.ndarray:
    """Unseen grid points: ``n`` random ones plus the one-step neighbours of ``best``."""
    rand = snap(rng.random((n, best.size)), steps)
    eye = np.eye(best.size) * steps
    near = snap(np.concatenate([best + eye, best - eye]), steps)
    out, keys = [], set(seen)
    for z in np.concatenate([near, rand]):
        key = _grid_key(z, steps)
        if key not in keys:
            keys.add(key)
            out.append(z)
    return np.asarray(out).reshape(-1, best.size)


def rbf_kernel(A: np.ndarray, B: np.ndarray, length: float) -> np.ndarray:
    """``exp(-|a - b|^2 / (2 length^2))`` for all pairs of rows."""
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.exp(-0.5 * d2 / length**2)


def gp_posterior(Z: np.ndarray, y: np.ndarray, query: np.ndarray, noise: float = 1e-6,
                 lengths: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation at ``query`` of a zero-mean GP on standardized ``y``.

    The RBF length scale (times sqrt(dim)) maximizing the log marginal likelihood is used.
    """
    from scipy.linalg import cho_factor, cho_solve

    mean, std = float(np.mean(y)), float(np.std(y)) or 1.0
    t = (y - mean) / std
    best = None
    for length in lengths:
        ls = length * math.sqrt(Z.shape[1])
        K = rbf_kernel(Z, Z, ls) + (noise + 1e-8) * np.eye(len(Z))
        factor = cho_factor(K, lower=True)
        alpha = cho_solve(factor, t)
        lml = -0.5 * t @ alpha - np.log(np.diag(factor[0])).sum()
        if best is None or lml > best[0]:
            best = (lml, ls, factor, alpha)
    _, ls, factor, alpha = best
    Kq = rbf_kernel(query, Z, ls)
    mu = Kq @ alpha
    var = 1.0 - (Kq * cho_solve(factor, Kq.T).T).sum(1)
    return mean + std * mu, std * np.sqrt(np.maximum(var, 1e-12))


def expected_improvement(mu: np.ndarray, sd: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """Expected improvement below ``best`` (minimization) of Gaussian predictions."""
    from scipy.stats import norm

    imp = best - mu - xi
    z = imp / sd
    return imp * norm.cdf(z) + sd * norm.pdf(z)


# ----------------------------------------------------------------- random search
def random_search(objective: Objective, n: int | None = None, seed: int = 0, x0: np.ndarray | None = None) -> np.ndarray:
    """Uniform samples in [0, 1]^d, evaluated in batches (``x0`` first if given);
    ``n=None`` samples until the budget is spent."""
    rng = np.random.default_rng(seed)
    d = objective.dim

    def sample() -> None:
        if x0 is not None:
            objective.loss_at(x0)
        done = 0
        while n is None or done < n:
            k = objective.batch_size if n is None else min(objective.batch_size, n - done)
            objective.f_batch(rng.random((k, d)))
            done += k

    if d == 0:
        return objective.best_x.copy()
    return guard(objective, sample)


# ------------------------------------------------------------------------ driver
@dataclass
class BaselineResult:
    method: str
    graph: Graph
    loss: float  # loss of ``graph`` (best parameters), recomputed with an unbatched real render
    initial_loss: float
    history: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, evaluations, best loss)
    evaluations: int = 0
    seconds: float = 0.0


def run_baseline(name: str, graph: Graph, target: torch.Tensor, *, time_budget_s: float | None,
                 max_evals: int | None = None, res: int | None = None, seed: int = 0,
                 loss_config: LossConfig = LOSS_PRESETS["default"], render_settings: RenderSettings = RenderSettings(),
                 batch_size: int = 16, options: Mapping[str, Any] | None = None,
                 loss: MaterialLoss | None = None, device: torch.device | str = "cpu",
                 progress: bool = False) -> BaselineResult:
    """Fit ``graph`` to ``target`` (1, 3, H, W) with a gradient-free method under a budget.

    ``name`` is one of :data:`BASELINES` (or an alias: cma, sa, powell, random);
    ``options`` are extra keyword arguments of the method; ``loss`` reuses a
    prepared :class:`MaterialLoss` (its target wins over ``target``). The
    budget must be bounded: ``time_budget_s`` and/or ``max_evals``. The initial
    parameters are evaluated first, so the result is never worse than them.
    ``progress`` shows a bar over the budget (:func:`budget_bar`).
    """
    method = ALIASES.get(name, name)
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {list(BASELINES)}")
    if time_budget_s is None and max_evals is None:
        raise ValueError("give time_budget_s and/or max_evals: the baselines need a budget")
    res = int(res or graph.res)
    device = torch.device(device)
    if loss is None:
        target = _fit_target(target.to(device), res)
        loss = MaterialLoss(target, loss_config)
    obj = Objective(graph, loss.target, loss, res=res, settings=render_settings, time_budget_s=time_budget_s,
                    max_evals=max_evals, batch_size=batch_size, device=device)
    t0 = time.perf_counter()
    obj.start()
    x0 = obj.x0
    with budget_bar(obj, method, progress):
        try:
            obj.f(x0)
        except BudgetExhausted:
            pass
        opts = dict(options or {})
        if method == "cma_es":
            cma_es(obj, x0, seed=seed, **opts)
        elif method == "simulated_annealing":
            opts.setdefault("steps", None if max_evals is None else max(max_evals - 1, 1))
            simulated_annealing(obj, x0, seed=seed, **opts)
        elif method == "powell_bo":
            powell_bo(obj, x0, seed=seed, **opts)
        else:
            random_search(obj, seed=seed, **opts)
    out = graph.copy()
    obj.apply(out, obj.best_x)
    initial = obj.real_loss(graph)
    final = obj.real_loss(out)
    if final > initial:  # only float rounding of the batched evaluation can cause this
        out, final = graph.copy(), initial
    return BaselineResult(method, out, final, initial, list(obj.history), obj.evaluations, time.perf_counter() - t0)


def _fit_target(target: torch.Tensor, res: int) -> torch.Tensor:
    """The target as (1, 3, res, res), resized (area-averaged / bilinear) if needed."""
    if target.dim() == 3:
        target = target[None]
    if target.shape[-1] != res or target.shape[-2] != res:
        mode = "area" if target.shape[-1] > res else "bilinear"
        kw = {} if mode == "area" else {"align_corners": False}
        target = F.interpolate(target, size=(res, res), mode=mode, **kw)
    return target

"""Benchmark E4: fit a PPTBF mask generator to a binary target mask.

Three ways to the same goal, measured side by side (supplemental Fig. 6):

* **proxy + Adam**: the best of ``n_init`` random parameter vectors scored
  through the proxy, then Adam on the ``starts`` best ones at once, through the
  proxy; every ``check_every`` iterations the real generator renders the
  current vectors and the best *real* loss so far is recorded;
* **gradient-free** (Hu et al. 2022's Powell + Bayesian optimization, and
  CMA-ES): the real generator in the loop, from the best of ``n_init`` random
  vectors rendered with the real generator, until a time budget runs out;
  ``powell_bo_schedule`` instead stops where Hu et al.'s published schedule
  ends (:data:`HU2022_SCHEDULE`), which is how long their pipeline runs;
* **direct + Adam** (:data:`DIRECT`): the proxy fit's recipe with the real
  generator instead of the proxy, by autograd through it on the parameters it
  declares ``direct`` (the others, e.g. zoom on the integer tile lattice, stay
  at the start), at a working resolution (:func:`fit_direct_adam`);
  :data:`PROXY_DIRECT` runs it from the proxy fit's result instead, which
  fixes zoom and aspect (the cell count) where the proxy put them.

Both search the same space, the generator's free parameters normalized over
the proxy's sampling box, and both are scored with the same loss: the texture
loss of the material pipeline (:class:`~proxymat.optimize.loss.MaterialLoss`:
multi-scale Gram descriptors) plus the white-fraction difference. Targets are
masks of the same generator at held-out parameters and another layout seed, so
the layout cannot be matched, only the statistics. The headline number is
the time each gradient-free method needs to reach the loss the proxy run
ended with, divided by the proxy run's time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..io import resize_square
from ..nodes.generators.base import GeneratorSpec
from ..optimize.gradient_free import BudgetExhausted, Objective, budget_bar, cma_es, powell_bo, random_search
from ..optimize.loss import LossConfig, MaterialLoss
from ..param_space import Box, ParamSpace
from ..params import ParamSpec
from ..proxy.model import normalize_params, proxy_inputs
from .mask_fit_report import (HYBRID_REFERENCE, PROXY_DIRECT, PROXY_INIT, best_at, merge_rows, summarize,
                              write_curves, write_figure)

TARGET_SEED = 424_242  # parameter draws of the targets (held out from training's seeds)
TARGET_LAYOUT_SEED = 7  # generator seed of the targets (training and fitting use seed 0)
GRADIENT_FREE = ("powell_bo", "cma_es", "random_search", "powell_bo_schedule")
HU2022_SCHEDULE = {"rounds": 5, "powell_maxiter": 2, "bo_iters": 300}  # Hu et al.'s published counts (240 + 60 BO)
DIRECT = "direct_adam"  # Adam by autograd through the real generator on its direct parameters


# --------------------------------------------------------------------- space
@dataclass(frozen=True)
class BoxSpace:
    """The free parameters of ``spec`` as ``x`` in [0, 1]^d over the sampling box: the
    :class:`~proxymat.param_space.Box` of the generator's :class:`~proxymat.param_space.ParamSpace`,
    with the generator and its proxy's input at ``x``."""

    spec: GeneratorSpec
    box: Box

    @staticmethod
    def of(spec: GeneratorSpec) -> "BoxSpace":
        space = ParamSpace.of_generator(spec)
        return BoxSpace(spec, space.box([f"{spec.name}.{p.name}" for p in proxy_inputs(spec)]))

    @property
    def params(self) -> tuple[ParamSpec, ...]:
        return self.box.specs

    @property
    def dim(self) -> int:
        return self.box.dim

    def real(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, d) -> real-unit parameters {name: (B,)}, fixed ones pinned (differentiable in x)."""
        vals = self.box.real(x)
        out = {p.name: vals[:, k] for k, p in enumerate(self.params)}
        for name, value in self.spec.fixed.items():
            out[name] = torch.full((x.shape[0],), float(value))
        return out

    def proxy_input(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, d) -> the proxy's P (B, d), differentiable."""
        real = self.real(x)
        return normalize_params(self.spec, {p.name: real[p.name] for p in self.params})

    def render(self, x: torch.Tensor, res: int, seed: int = 0) -> torch.Tensor:
        """Real generator maps (B, 1, res, res) at x."""
        return self.spec({k: v.detach() for k, v in self.real(x).items()}, res, seed)

    def render_graph(self, x: torch.Tensor, res: int, seed: int = 0) -> torch.Tensor:
        """:meth:`render` keeping the graph: gradients reach x through the generator's direct parameters."""
        return self.spec(self.real(x), res, seed, grad=True)

    def direct_mask(self) -> torch.Tensor:
        """(d,) bool: the coordinates of x whose parameter the generator declares ``direct``."""
        return torch.tensor([p.name in self.spec.direct for p in self.params])


# ---------------------------------------------------------------------- loss
class MaskLoss:
    """Texture statistics of a grey map: Gram descriptors plus the mean grey level."""

    def __init__(self, target: torch.Tensor, mean_weight: float = 1.0):
        self.target = target
        self.mean_weight = mean_weight
        self._texture = MaterialLoss(_rgb(target), LossConfig(l1_weight=0.0, features="random"))
        self._mean = target.mean()

    def per_image(self, maps: torch.Tensor) -> torch.Tensor:
        mean_term = (maps.flatten(1).mean(1) - self._mean).abs()
        return self._texture.per_image(_rgb(maps)) + self.mean_weight * mean_term


def _rgb(grey: torch.Tensor) -> torch.Tensor:
    return grey.expand(-1, 3, -1, -1)


class GeneratorObjective(Objective):
    """:class:`Objective` over a generator's box-normalized free parameters (no graph, no render)."""

    def __init__(self, space: BoxSpace, loss: MaskLoss, res: int, *, time_budget_s: float | None = None,
                 max_evals: int | None = None, batch_size: int = 16, x0: np.ndarray | None = None):
        self.space, self.loss, self.res = space, loss, int(res)
        self.target = loss.target
        self.device = torch.device("cpu")
        self.layout = space.box.layout()
        self._init_search(np.full(space.dim, 0.5) if x0 is None else x0, time_budget_s, max_evals, batch_size)

    def _losses(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            maps = self.space.render(torch.from_numpy(X).float(), self.res)
            return self.loss.per_image(maps).double().numpy()


# ------------------------------------------------------------------ methods
@dataclass
class FitResult:
    method: str
    loss: float  # best real-generator loss
    seconds: float
    x: list[float]
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best real loss so far)
    evaluations: int = 0  # real-generator renders

    def time_to(self, level: float) -> float | None:
        """Seconds until the best real loss first reached ``level`` (None: never)."""
        return next((t for t, v in self.history if v <= level + 1e-12), None)

    def improvements(self) -> list[list[float]]:
        """``history`` thinned to the points where the best loss went down: ``[seconds, loss]`` pairs,
        enough to compute :meth:`time_to` for any level after the run."""
        out: list[list[float]] = []
        for t, v in self.history:
            if not out or v < out[-1][1]:
                out.append([round(t, 3), v])
        return out


class _RealChecks:
    """Checkpoints of an Adam fit: real renders at ``res`` scored with ``loss``; keeps the best vector,
    the (seconds since ``t0``, best loss so far) history and the number of renders."""

    def __init__(self, space: BoxSpace, loss: MaskLoss, res: int, t0: float, x: torch.Tensor):
        self.space, self.loss, self.res, self.t0 = space, loss, res, t0
        self.best, self.best_x, self.history, self.renders = math.inf, x.detach()[0].clone(), [], 0

    def __call__(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            xs = x.detach().clamp(0, 1)
            real = self.loss.per_image(self.space.render(xs, self.res))
        self.renders += xs.shape[0]
        k = int(torch.argmin(real))
        if float(real[k]) < self.best:
            self.best, self.best_x = float(real[k]), xs[k].clone()
        self.history.append((time.perf_counter() - self.t0, self.best))

    def result(self, method: str) -> FitResult:
        return FitResult(method, self.best, time.perf_counter() - self.t0, self.best_x.tolist(), self.history,
                         self.renders)


def fit_proxy_adam(space: BoxSpace, proxy: Callable[[torch.Tensor], torch.Tensor], loss: MaskLoss, res: int, *,
                   n_init: int = 64, starts: int = 4, steps: int = 150, lr: float = 0.03, check_every: int = 25,
                   seed: int = 0) -> FitResult:
    """Random init through the proxy, Adam through the proxy, real renders at checkpoints.

    The proxy works at its own resolution against the target area-downsampled
    to it (parameters do not depend on resolution); real renders are scored
    with ``loss`` at ``res``.
    """
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x_init = space.box.uniform(n_init, gen)
        outs = torch.cat([proxy(space.proxy_input(x_init[s:s + 16])) for s in range(0, n_init, 16)])
        p_loss = loss if outs.shape[-1] == res else MaskLoss(resize_square(loss.target, outs.shape[-1]))
        init_losses = p_loss.per_image(outs)
    x = x_init[torch.argsort(init_losses)[:starts]].clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    check = _RealChecks(space, loss, res, t0, x)
    for it in range(steps):
        if it % check_every == 0:
            check(x)
        out = proxy(space.proxy_input(x))
        opt.zero_grad(set_to_none=True)
        p_loss.per_image(out).sum().backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    check(x)
    return check.result("proxy_adam")


def fit_direct_adam(space: BoxSpace, loss: MaskLoss, res: int, *, n_init: int = 64, starts: int | None = None,
                    steps: int = 150, lr: float = 0.03, check_every: int = 25, seed: int = 0,
                    work_res: int | None = None, x0: Sequence[float] | None = None, grid: int = 0) -> FitResult:
    """:func:`fit_proxy_adam` with the real generator in the proxy's place.

    The same ``n_init`` random vectors (same ``seed``) are scored with real
    renders, the ``starts`` best start Adam, which moves only the coordinates
    whose parameter the generator declares ``direct`` (autograd through the
    generator, ``grad=True``); the others stay at their start values. Renders
    in the loop are at ``work_res`` (default ``res``) against the target
    area-downsampled to it; checkpoints score real renders at ``res`` with
    ``loss``. A start whose render has no graph (a mask that falls back to no
    edge ramp) gets no step from it. ``x0`` is a start of its own, first,
    beside the ``starts`` best random ones (default 4, 0 with ``x0``). With
    ``grid`` > 1 each start's other coordinates first move to the best point of
    a grid over them (:func:`grid_fixed`), at ``work_res``.
    """
    free = space.direct_mask()
    if not bool(free.any()):
        raise ValueError(f"generator {space.spec.name!r} declares no direct parameters to fit")
    work_res = int(work_res or res)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    w_loss = loss if work_res == res else MaskLoss(resize_square(loss.target, work_res))
    starts = (4 if x0 is None else 0) if starts is None else starts
    start = torch.tensor([list(x0)], dtype=torch.float32) if x0 is not None else torch.zeros(0, space.dim)
    if starts > 0:
        with torch.no_grad():
            x_init = space.box.uniform(n_init, gen)
            init_losses = torch.cat([w_loss.per_image(space.render(x_init[s:s + 16], work_res))
                                     for s in range(0, n_init, 16)])
        start = torch.cat([start, x_init[torch.argsort(init_losses)[:starts]]])
    if len(start) == 0:
        raise ValueError("direct Adam needs a start: give x0 or starts > 0")
    if grid > 1:
        start = grid_fixed(space, w_loss, start, work_res, grid)
    z = start[:, free].clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)

    def current() -> torch.Tensor:
        x = start.clone()
        x[:, free] = z
        return x

    check = _RealChecks(space, loss, res, t0, start)
    for it in range(steps):
        if it % check_every == 0:
            check(current())
        out = space.render_graph(current(), work_res)
        opt.zero_grad(set_to_none=True)
        if out.requires_grad:
            w_loss.per_image(out).sum().backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(0.0, 1.0)
    check(current())
    return check.result(DIRECT)


def grid_fixed(space: BoxSpace, loss: MaskLoss, start: torch.Tensor, res: int, n: int) -> torch.Tensor:
    """``start`` (B, d) with, per row, the coordinates that get no direct gradient (zoom, aspect) set to
    the best of ``n`` evenly spaced values each over [0, 1] (all combinations; the row's own values
    compete too), the others kept; scored with real renders at ``res`` by ``loss``."""
    fixed = torch.nonzero(~space.direct_mask()).flatten()
    if len(fixed) == 0:
        return start.clone()
    points = torch.cartesian_prod(*[torch.linspace(0.0, 1.0, n)] * len(fixed)).reshape(-1, len(fixed))
    out = start.clone()
    for b in range(start.shape[0]):
        cands = start[b:b + 1].repeat(len(points) + 1, 1)
        cands[1:, fixed] = points
        with torch.no_grad():
            losses = torch.cat([loss.per_image(space.render(cands[s:s + 16], res)) for s in range(0, len(cands), 16)])
        out[b] = cands[int(torch.argmin(losses))]
    return out


def fit_gradient_free(method: str, space: BoxSpace, loss: MaskLoss, res: int, *, budget_s: float, n_init: int = 64,
                      seed: int = 0, x0: Sequence[float] | None = None, progress: bool = False) -> FitResult:
    """Hu et al.'s Powell + BO, CMA-ES or random search with the real generator.

    The start is the best of ``n_init`` random vectors, or ``x0`` when given
    (e.g. a proxy fit: Powell + BO from there is the proxy plugged into Hu et
    al.'s pipeline as its initialization). ``progress`` shows a bar over the budget.
    """
    obj = GeneratorObjective(space, loss, res, time_budget_s=budget_s)
    obj.start()
    rng = np.random.default_rng(seed)
    with budget_bar(obj, method, progress):
        _search(method, obj, rng, n_init, seed, x0)
    hist = [(t, v) for t, _, v in obj.history]
    return FitResult(method, float(obj.best_loss), obj.elapsed(), obj.best_x.tolist(), hist, obj.evaluations)


def _search(method: str, obj: GeneratorObjective, rng: np.random.Generator, n_init: int, seed: int,
            x0: Sequence[float] | None) -> None:
    """Run ``method`` on ``obj`` until it ends or the budget runs out."""
    try:
        if x0 is not None:
            obj.f(np.asarray(x0, dtype=np.float64))
        elif method != "random_search":
            obj.f_batch(rng.random((n_init, obj.space.dim)))
        if method == "powell_bo":  # the alternation until the budget runs out
            powell_bo(obj, obj.best_x.copy(), rounds=1000, seed=seed)
        elif method == "powell_bo_schedule":  # the published schedule, to its end (the budget only caps it)
            powell_bo(obj, obj.best_x.copy(), seed=seed, **HU2022_SCHEDULE)
        elif method == "cma_es":
            cma_es(obj, obj.best_x.copy(), seed=seed)
        elif method == "random_search":
            random_search(obj, seed=seed)
        else:
            raise ValueError(f"unknown method {method!r}; expected one of {list(GRADIENT_FREE)}")
    except BudgetExhausted:
        pass


# ------------------------------------------------------------------- targets
def make_targets(space: BoxSpace, n: int, res: int, seed: int = TARGET_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` held-out masks (n, 1, res, res) and their x (n, d), layout seed :data:`TARGET_LAYOUT_SEED`."""
    gen = torch.Generator().manual_seed(seed)
    x = space.box.uniform(n, gen)
    return space.render(x, res, TARGET_LAYOUT_SEED), x


def run_mask_fit(spec: GeneratorSpec, proxy: Callable[[torch.Tensor], torch.Tensor], *, n_targets: int = 4,
                 res: int = 64, budget_s: float = 120.0, methods: Sequence[str] = ("powell_bo", "cma_es"),
                 steps: int = 150, search: int = 64, seed: int = 0, targets: torch.Tensor | None = None,
                 progress: Callable[[str], None] | None = None, figures: Path | None = None,
                 on_rows: Callable[[list[dict[str, Any]]], None] | None = None, proxy_label: str | None = None,
                 kept: Callable[[dict[str, Any], Sequence[str]], list[dict[str, Any]] | None] | None = None,
                 bars: bool = False, direct_res: int | None = None, direct_steps: int | None = None,
                 direct_lr: float = 0.03, direct_grid: int = 0, direct_random: int = 0) -> list[dict[str, Any]]:
    """E4 rows: one per (target, method), with the proxy's time-to-loss ratio.

    ``search`` is the number of random vectors scored through the proxy to
    start its fit (:func:`fit_proxy_adam`'s ``n_init``).

    ``on_rows`` gets all rows so far after each target (e.g. to save them, so
    that a killed run keeps what it measured). Every row carries its target's
    key (:func:`target_key`; ``proxy_label`` names the proxy in it); ``kept``
    may answer a key and the methods with earlier rows of that target, which
    are then used instead of running it again (``bench e4 --resume``; only for
    the held-out targets, not for given ``targets``). ``bars`` shows a progress
    bar over each gradient-free fit's budget. Method :data:`DIRECT` runs
    :func:`fit_direct_adam` with the proxy fit's ``search``, ``direct_steps``
    (default ``steps``) steps at learning rate ``direct_lr``, its loop at
    ``direct_res`` (default ``res``), its other coordinates first on a
    ``direct_grid`` grid (:func:`grid_fixed`; 0: none); :data:`PROXY_DIRECT` the
    same from the proxy fit's result, beside the ``direct_random`` best of
    ``search`` random vectors scored with real renders (0: the proxy's alone). The hybrids (:data:`HYBRID_REFERENCE`) continue the proxy
    fit's clock, history and renders, and their rows say when they reached the
    final loss of their reference method where that ran first on the target.

    With ``figures``, writes ``e4_target<k>.png`` per target: the target, the
    proxy's output and the real mask at the proxy+Adam result, then the real
    mask of each gradient-free result; and ``e4_curves.png``, each method's
    best loss against time (:func:`write_curves`).
    """
    space = BoxSpace.of(spec)
    if targets is None:
        targets, true_x = make_targets(space, n_targets, res)
    else:
        true_x = None
    rows: list[dict[str, Any]] = []
    direct = {"steps": direct_steps or steps, "lr": direct_lr, "seed": seed, "work_res": direct_res, "grid": direct_grid}
    direct_key = None
    if DIRECT in methods or PROXY_DIRECT in methods:  # the direct fits' settings change their rows: part of the key
        direct_key = {"work_res": int(direct_res or res), "steps": direct["steps"], "lr": float(direct_lr),
                      "grid": direct_grid, "random": direct_random if PROXY_DIRECT in methods else None}
    for t in range(targets.shape[0]):
        key = target_key(t, spec.name, res, budget_s, steps, search, seed, proxy_label, direct_key)
        earlier = kept(key, ["proxy_adam", *methods]) if kept is not None and true_x is not None else None
        if earlier:
            rows += earlier
            if on_rows:
                on_rows(rows)
            continue
        loss = MaskLoss(targets[t:t + 1])
        ours = fit_proxy_adam(space, proxy, loss, res, n_init=search, steps=steps, seed=seed)
        ref = {}
        if true_x is not None:  # the loss at the true parameters (other layout seed): the reachable level
            with torch.no_grad():
                ref["true_params_loss"] = float(loss.per_image(space.render(true_x[t:t + 1], res)))
        rows.append({**key, "method": ours.method, "loss": ours.loss, "seconds": ours.seconds,
                     "renders": ours.evaluations, "x": ours.x, **ref, **_timeline(ours, ref)})
        if progress:
            progress(f"target {t}: proxy+Adam loss {ours.loss:.4f} in {ours.seconds:.1f}s")
        for method in methods:
            if method == PROXY_INIT:  # Powell + BO from the proxy's result
                gf = after_proxy(ours, method, fit_gradient_free(
                    "powell_bo", space, loss, res, budget_s=max(budget_s - ours.seconds, 1.0), seed=seed, x0=ours.x,
                    progress=bars))
            elif method == PROXY_DIRECT:
                gf = after_proxy(ours, method, fit_direct_adam(space, loss, res, x0=ours.x, n_init=search,
                                                               starts=direct_random, **direct))
            elif method == DIRECT:
                gf = fit_direct_adam(space, loss, res, n_init=search, **direct)
            else:
                gf = fit_gradient_free(method, space, loss, res, budget_s=budget_s, seed=seed, progress=bars)
            row: dict[str, Any] = {**key, "method": method, "loss": gf.loss, "seconds": gf.seconds,
                                   "renders": gf.evaluations, "x": gf.x, **ref, **_timeline(gf, ref)}
            if method in (DIRECT, PROXY_DIRECT):
                row.update({"work_res": int(direct_res or res), "direct_steps": direct["steps"], "direct_lr": direct_lr,
                            "direct_grid": direct_grid})
            if method == PROXY_DIRECT:
                row["direct_random"] = direct_random
            if method in HYBRID_REFERENCE:  # compared with its reference method's final loss, when that ran
                ref_method = HYBRID_REFERENCE[method]
                plain = next((r for r in rows if r["target"] == t and r["method"] == ref_method), None)
                row[f"time_to_{ref_method}_loss"] = gf.time_to(plain["loss"]) if plain else None
            else:
                reach = gf.time_to(ours.loss)
                row.update({"time_to_proxy_loss": reach,
                            "speedup": (reach / ours.seconds) if reach is not None else None,
                            "speedup_lower_bound": None if reach is not None else gf.seconds / ours.seconds})
            rows.append(row)
            goal = f"{HYBRID_REFERENCE[method]}'s final loss" if method in HYBRID_REFERENCE else "proxy loss"
            reach = row.get("time_to_proxy_loss", row.get(f"time_to_{HYBRID_REFERENCE.get(method)}_loss"))
            said = f"reached {goal} after {'never' if reach is None else f'{reach:.1f} s'}"
            if method in HYBRID_REFERENCE and not any(r["target"] == t and r["method"] == HYBRID_REFERENCE[method]
                                                      for r in rows):
                said = f"no {HYBRID_REFERENCE[method]} row to compare with"
            if progress:
                progress(f"target {t}: {method} loss {gf.loss:.4f} ({gf.evaluations} renders); {said}")
        if figures is not None:
            write_figure(space, proxy, targets[t:t + 1], [r for r in rows if r["target"] == t], res,
                         figures / f"e4_target{t}.png")
        if on_rows:
            on_rows(rows)
    if figures is not None:
        write_curves(rows, figures / "e4_curves.png")
    return rows


def after_proxy(ours: FitResult, method: str, fit: FitResult) -> FitResult:
    """``fit``, started from the proxy fit ``ours``'s result, as one run named ``method``: its clock
    and renders continue the proxy fit's, its history follows the proxy fit's."""
    later = [(s + ours.seconds, min(v, ours.loss)) for s, v in fit.history]
    best, x = (fit.loss, fit.x) if fit.loss < ours.loss else (ours.loss, ours.x)
    return FitResult(method, best, fit.seconds + ours.seconds, x, [*ours.history, *later],
                     fit.evaluations + ours.evaluations)


def target_key(target: int, generator: str, res: int, budget_s: float, steps: int, search: int, seed: int,
               proxy_label: str | None, direct: dict[str, Any] | None = None) -> dict[str, Any]:
    """What identifies one held-out target's rows (for ``--resume``): the target, family and resolution,
    and the settings the rows do not show otherwise; ``direct``, where a direct method runs, its settings
    (``--direct-res/-steps/-lr/-grid/-random``), so that runs with other direct settings are not mixed up."""
    settings: dict[str, Any] = {"budget_s": float(budget_s), "steps": steps, "search": search, "seed": seed,
                                "proxy": proxy_label or "own"}
    if direct is not None:
        settings["direct"] = dict(direct)
    return {"target": target, "generator": generator, "res": res, "settings": settings}


def _timeline(fit: FitResult, ref: dict[str, float]) -> dict[str, Any]:
    """A row's history of improvements, and when it reached the reachable loss (if known)."""
    out: dict[str, Any] = {"history": fit.improvements()}
    if "true_params_loss" in ref:
        out["time_to_true_params_loss"] = fit.time_to(ref["true_params_loss"])
    return out


__all__ = [  # the reporting lives in mask_fit_report; its names stay importable from here
    "BoxSpace", "DIRECT", "FitResult", "GeneratorObjective", "GRADIENT_FREE", "HU2022_SCHEDULE", "HYBRID_REFERENCE",
    "MaskLoss", "PROXY_DIRECT", "PROXY_INIT", "after_proxy", "best_at", "fit_direct_adam", "fit_gradient_free",
    "fit_proxy_adam", "grid_fixed", "make_targets", "merge_rows", "run_mask_fit", "summarize", "target_key",
    "write_curves", "write_figure",
]

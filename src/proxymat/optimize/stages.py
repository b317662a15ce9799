"""Stages I-III of the graph optimization (Hu et al. 2022, after MATch).

* Stage I: Adam on filter parameters; generator outputs fixed (real generators).
* Category sweep (between Stage I and Stage II; not in the paper; ``sweep_iters``
  Adam iterations per trial, 0 turns it off): each categorical generator
  parameter (enum or bool) is set to each of its other choices in turn (at
  most ``sweep_max`` trials per round, drawn at random when there are more)
  and the filters are re-fit to it by a short Adam with the real generators;
  the current choices get the same re-fit, and the lowest loss wins. Up to
  ``sweep_rounds`` rounds, each trying one more change on top of the last
  winner, while a round finds a gain; every re-fit starts from the filters
  the sweep started with, so trials differ only in their categories. A
  change that leaves a proxy's pinned category (so Stage II loses that
  proxy) must lower the loss by ``sweep_proxy_margin`` (2 %), any other by
  0.1 %. Neither the proxies (which pin such parameters) nor the polish
  (filters held) can leave a category whose filters were fit to another.
* Stage II: random search over generator parameters through the proxies (the
  current values are candidate 0, so the search never loses ground; a
  ``local_fraction`` of the samples perturb the current values by up to
  ``local_radius`` of each parameter's range, the rest are drawn over the
  whole sampling box); the
  ``rescore`` candidates with the lowest proxy loss, and candidate 0, are
  rendered again with the real generators and the lowest real loss wins (a
  coarse proxy can rank candidates wrongly; ``rescore=0`` keeps the paper's
  proxy-only choice). With ``search_refit`` (not in the paper; 0 turns it off) the
  filters are then re-fit to candidate 0, the chosen candidate and the
  ``search_refit`` candidates with the lowest search loss, by
  ``search_refit_iters`` Adam iterations each with the real generators (one
  independent fit per candidate, batched), and the lowest loss after the
  re-fit picks the start: filters fit to the current generator values make
  better values look worse (on the leather example at 128 px, the true
  cells values scored 0.064 with the filters of a finished run, whose own
  cells values scored 0.043, and 0.011 after a 25-iteration re-fit). Then joint
  Adam on filter and generator parameters through the proxies. Every
  ``stage2_check`` iterations the current values are rendered with the real
  generators; Stage II keeps the values with the lowest real loss (the last
  proxy-loss best competes too) and stops once ``stage2_patience`` checks in
  a row bring no real gain, since the proxies then only chase their own
  error (``stage2_check=0``: the paper's fixed iteration count). If starting
  from the initial filters beats starting from Stage I's, Stage I is discarded
  (supplemental section 3.2) and the log says so.
* Polish (after Stage II and only with it; not in the paper; ``polish`` real
  evaluations, 0 turns it off): a local
  search on the generator parameters with the real generators, filters held.
  Each round renders ``search_batch`` sparse perturbations of the current
  values (a ``polish_prob`` share of the coordinates, at least one, moves by
  up to ``polish_radius``; discrete ones by whole grid steps) and keeps the
  best if it lowers the loss; the radius grows by ``polish_grow`` after a
  round with a gain and shrinks by 0.7 after one without (within 0.01-0.5),
  so a run of gains can travel far (``polish_grow=1`` only shrinks).
  It starts from the lowest-loss graph so far (Stage II can end above it).
  With ``polish_filters`` the filter parameters move too (as in SA).
  It moves the generators that have no proxy, and corrects a proxy's bias.
* Stage III: real generators back in (discrete parameters rounded), filters
  refined with a smaller learning rate.

A graph that declares ``free`` parameters (see :mod:`.free`) has only those
moved, by every stage (the filter fits, the sweep, the search, Stage II's
Adam, the polish), each within its declared range.

Each stage ends with a checkpoint, and Stages I, II (its Adam part) and III and
the polish also save one every ``checkpoint_every`` seconds (60 by default), so a
killed run loses at most about a minute. A rerun into the same output folder
resumes from the checkpoint and gives the same result as an uninterrupted run;
it refuses (:class:`~.checkpoint.CheckpointError`) a checkpoint made by another
run: other graph, target, encoding, resolution, settings or proxies (see
:mod:`.checkpoint`). Progression frames written after the last checkpoint are
dropped on resume, so the GIF shows one run.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import torch
import torch.nn.functional as F

from ..atomic import atomic_write_text
from ..graph import Graph
from ..nodes.generators.base import GeneratorSpec
from ..render import render
from . import checkpoint as ckpt
from .config import OptimizeConfig
from .free import allows, free_bounds, intersect, restrict
from .loss import MaterialLoss
from .progress import NO_GRAD, RunProgress, planned_work

Values = dict[str, torch.Tensor]


POLISH_SHRINK = 0.7  # radius factor after a polish round without gain
POLISH_RADIUS_RANGE = (0.01, 0.5)


def next_radius(radius: float, improved: bool, grow: float) -> float:
    """The polish's step radius after a round: times ``grow`` after a gain, times
    POLISH_SHRINK otherwise, kept within POLISH_RADIUS_RANGE."""
    low, high = POLISH_RADIUS_RANGE
    return min(max(radius * (grow if improved else POLISH_SHRINK), low), high)


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


def category_trials(graph: Graph) -> list[tuple[str, Any]]:
    """``(key, value)`` for every other choice of every categorical (enum or bool) generator parameter."""
    out: list[tuple[str, Any]] = []
    for key, p in graph.param_specs("generators").items():
        if p.kind == "enum":
            choices: tuple[Any, ...] = tuple(p.choices)
        elif p.kind == "bool":
            choices = (False, True)
        else:
            continue
        now = graph.value(key)
        out += [(key, c) for c in choices if c != now]
    return out


class ProxyLike(Protocol):
    """What Stage II needs of a proxy: parameter order and a differentiable forward."""

    param_names: list[str]

    def __call__(self, p: torch.Tensor) -> torch.Tensor: ...


@dataclass
class StageRecord:
    name: str
    loss_start: float
    loss_end: float
    curve: list[float]
    seconds: float
    note: str = ""


@dataclass
class OptimizeResult:
    graph: Graph
    records: list[StageRecord]
    renders: dict[str, torch.Tensor]
    loss_final: float
    seconds: float


Log = Callable[[str], None]


class Optimization:
    """One optimization run: holds the target, loss, proxies and progress records."""

    def __init__(self, graph: Graph, target: torch.Tensor, config: OptimizeConfig = OptimizeConfig(),
                 proxies: Mapping[str, ProxyLike] | None = None, out_dir: Path | None = None,
                 log: Log = print, progress: bool = True, device: torch.device | str = "cpu",
                 target_id: ckpt.TargetId | None = None, checkpoint_every: float = 60.0):
        """``target_id`` names the target in the run's identity (default: a digest of ``target``);
        ``checkpoint_every``: seconds between the checkpoints saved within a stage (with ``out_dir``)."""
        self.device = torch.device(device)
        self.free = free_bounds(graph)  # None: every parameter moves; else only these keys, within their ranges
        self.graph = graph.copy()
        self.initial = graph.copy()
        self.config = config
        self.target = target.to(self.device)
        self.loss = MaterialLoss(self.target, config.loss)
        self.proxies = dict(proxies or {})
        self.out_dir = Path(out_dir) if out_dir else None
        self.log = log
        self.progress = progress
        self.bars = RunProgress({}, progress)  # loop bars only; run() adds the overall bar
        self.records: list[StageRecord] = []
        self.renders: dict[str, torch.Tensor] = {}
        self.best: dict[str, Any] | None = None  # {"stage", "loss", "graph"}: lowest real loss seen
        self._gen = torch.Generator().manual_seed(config.seed)
        self._real_memo: dict[str, tuple[float, torch.Tensor]] = {}  # graph JSON -> (loss, render)
        self.proxy_nodes = self._applicable_proxies()
        self.target_id = target_id or ckpt.TargetId(ckpt.digest_pixels(self.target))
        self.checkpoint_every = float(checkpoint_every)
        self._identity: dict[str, Any] | None = None
        self._opened = False  # the checkpoint was read (load_checkpoint)
        self._partial: dict[str, Any] | None = None  # the unfinished stage of a resumed run
        self._frames = 0  # progression frames written so far
        self._saved_at = time.monotonic()

    def _applicable_proxies(self, quiet: bool = False, graph: Graph | None = None) -> dict[str, ProxyLike]:
        """Generator nodes of ``graph`` (default: the current one) whose proxy fits: the proxy's pinned
        parameters equal the node's values (``quiet``: do not log the nodes whose proxy does not fit)."""
        graph = graph or self.graph
        out: dict[str, ProxyLike] = {}
        for name, node in graph.nodes.items():
            spec = graph._spec(node)
            proxy = self.proxies.get(getattr(spec, "name", ""))
            if proxy is None:
                continue
            fixed = getattr(proxy, "fixed", None) or getattr(spec, "fixed", {})
            clash = [k for k, v in fixed.items()
                     if spec.param(k).to_numbers(node.params.get(k, spec.param(k).default))[0] != float(v)]
            if clash:
                if not quiet:
                    self.log(f"proxy for {spec.name!r} was trained with {', '.join(f'{k}={fixed[k]:g}' for k in clash)}; "
                             f"node {name!r} differs, so it uses the real generator (random search and polish only)")
                continue
            out[name] = proxy
        return out

    def generator_bounds(self) -> dict[str, tuple[float, float]]:
        """Normalized [lo, hi] of each generator parameter: its sampling box (where proxies are trained)."""
        out = {}
        for key, p in restrict(self.graph.param_specs("generators"), self.free).items():
            spec = self.graph._spec(self.graph.nodes[key.split(".")[0]])
            lo, hi = spec.sample_box.get(p.name, (p.low, p.high))
            if p.name in spec.fixed:  # pinned for the proxy: the search keeps the node's own value
                lo = hi = p.to_numbers(self.graph.value(key))[0]
            u = p.normalize_tensor(torch.tensor([float(lo), float(hi)], dtype=torch.float64)).clamp(0, 1).tolist()
            out[key] = (u[0], u[1]) if self.free is None else intersect((u[0], u[1]), self.free[key])
        return out

    def movable(self, values: Mapping[str, torch.Tensor]) -> Values:
        """The entries of ``values`` the optimizer may move (all, unless the graph declares ``free``)."""
        return restrict(values, self.free)

    def category_trials(self, graph: Graph) -> list[tuple[str, Any]]:
        """:func:`category_trials` of ``graph`` that its free parameters allow."""
        specs = graph.param_specs("generators")
        return [(k, v) for k, v in category_trials(graph)
                if allows(self.free, k, float(specs[k].normalize(v)[0]))]

    # ----------------------------------------------------------- evaluation
    def render_maps(self, maps: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return render(maps, self.config.render)

    def real_outputs(self, graph: Graph) -> dict[str, torch.Tensor]:
        """Real generator outputs at the graph's current parameters (frozen inputs)."""
        return graph.generator_outputs(self.config.res, self.device)

    def real_render(self, graph: Graph) -> torch.Tensor:
        with torch.no_grad():
            return self.render_maps(graph.evaluate(self.config.res, frozen=self.real_outputs(graph), device=self.device))

    def real_loss(self, graph: Graph) -> float:
        return self.real_eval(graph)[0]

    def real_eval(self, graph: Graph) -> tuple[float, torch.Tensor]:
        """Loss and render of the graph with the real generators, remembered for the last few graphs
        (a stage's start is the previous stage's end, so each graph is rendered once)."""
        key = json.dumps(graph.to_dict(), sort_keys=True)
        if key not in self._real_memo:
            with torch.no_grad():
                img = self.real_render(graph)
                self._real_memo[key] = (float(self.loss(img)), img)
            while len(self._real_memo) > 4:
                self._real_memo.pop(next(iter(self._real_memo)))
        return self._real_memo[key]

    @staticmethod
    def real_hook(name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                  res: int, seed: int) -> torch.Tensor:
        """Generator hook that always runs the real generator (batched candidates)."""
        return spec({k: v.detach() for k, v in real.items()}, res, seed)

    def proxy_hook(self, name: str, spec: GeneratorSpec, real: dict[str, torch.Tensor], norm: dict[str, torch.Tensor],
                   res: int, seed: int) -> torch.Tensor:
        """Generator hook that runs the node's proxy, or the real generator where it has none."""
        proxy = self.proxy_nodes.get(name)
        if proxy is None:
            return self.real_hook(name, spec, real, norm, res, seed)
        p = torch.stack([norm[n] for n in proxy.param_names], dim=-1)
        out = proxy(p)
        if out.shape[-1] != res:
            out = F.interpolate(out, size=(res, res), mode="bilinear", align_corners=False)
        return out

    # ---------------------------------------------------------------- loops
    def adam(self, values: Values, evaluate: Callable[[Values], torch.Tensor], iters: int, lr: float,
             desc: str, bounds: Mapping[str, tuple[float, float]] | None = None,
             monitor: Callable[[int, Values], bool] | None = None, check_every: int = 0,
             record_frames: bool = True, stage: str | None = None,
             resumed: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> tuple[Values, list[float]]:
        """Adam in normalized space, clamped to [0, 1] (or ``bounds``); returns the best values seen and the loss curve.

        With ``monitor`` and ``check_every``, ``monitor(it, values)`` runs before iterations 0,
        ``check_every``, ... and after the last one; it returning True ends the loop early.
        With ``stage``, a checkpoint is saved at the start of an iteration once ``checkpoint_every``
        seconds have passed (the loop's state, the monitor's ``state()`` and ``extra``); ``resumed``
        (such a saved state) continues the loop where it was saved, with the same results."""
        bounds = bounds or {}
        if not values:  # nothing to move (e.g. a graph whose free parameters are all generator parameters)
            return {}, []
        params = {k: v.detach().clone().to(self.device).requires_grad_(True) for k, v in values.items()}
        opt = torch.optim.Adam(list(params.values()), lr=lr)
        best_loss, best = math.inf, {k: v.detach().clone() for k, v in params.items()}
        curve: list[float] = []
        first = 0
        if resumed is not None:
            first, best_loss, curve = resumed["it"], resumed["best_loss"], list(resumed["curve"])
            best = {k: v.to(self.device) for k, v in resumed["best"].items()}
            with torch.no_grad():
                for k, v in params.items():
                    v.copy_(resumed["params"][k])
            groups = opt.state_dict()["param_groups"]
            opt.load_state_dict({"state": {int(i): st for i, st in resumed["opt"].items()}, "param_groups": groups})
            if resumed.get("monitor") is not None and hasattr(monitor, "restore"):
                monitor.restore(resumed["monitor"])  # type: ignore[union-attr]
        bar = self.bars.loop(range(first, iters), desc=desc)
        for it in bar:
            if stage is not None and self._checkpoint_due():
                self.save_checkpoint({
                    "stage": stage, "it": it, "elapsed": time.perf_counter() - self._stage_t0, "params": params,
                    "opt": opt.state_dict()["state"], "best_loss": best_loss, "best": best, "curve": curve,
                    "monitor": monitor.state() if hasattr(monitor, "state") else None, **(extra or {})})  # type: ignore[union-attr]
            if monitor is not None and check_every > 0 and it % check_every == 0 and monitor(it, params):
                break
            img = evaluate(params)
            loss = self.loss(img)
            value = loss.item()
            if not math.isfinite(value):
                self.log(f"{desc}: loss became {value} at iteration {it}; stopping this stage early")
                break
            curve.append(value)
            if value < best_loss:
                best_loss, best = value, {k: v.detach().clone() for k, v in params.items()}
            if record_frames and it % self.config.frame_every == 0:
                self.save_frame(img)
            if not loss.requires_grad:  # no moving parameter reaches the loss (e.g. free ones without a proxy)
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k, v in params.items():
                    v.clamp_(*bounds.get(k, (0.0, 1.0)))
            bar.set_postfix(loss=f"{value:.4f}")
        else:
            if monitor is not None and check_every > 0 and iters > 0:
                monitor(iters, params)
        return best, curve

    def save_frame(self, img: torch.Tensor) -> None:
        """Write the next progression frame (``frames/NNNNN.png``, 128 px)."""
        if self.out_dir is None:
            return
        from ..io import write_png

        small = F.interpolate(img[:1].detach().clamp(0, 1), size=(128, 128), mode="area")
        frames = self.out_dir / "frames"
        frames.mkdir(parents=True, exist_ok=True)
        write_png(frames / f"{self._frames:05d}.png", small.cpu())
        self._frames += 1

    def _stage_begin(self, stage: str) -> tuple[float, dict[str, Any] | None]:
        """(the stage's start time, counting the time a killed run spent in it; its saved state or None)."""
        resumed, self._partial = (self._partial, None) if self._partial and self._partial["stage"] == stage else (None, self._partial)
        self._stage_t0 = time.perf_counter() - (resumed["elapsed"] if resumed else 0.0)
        return self._stage_t0, resumed

    # --------------------------------------------------------------- stages
    def stage1(self) -> None:
        t0, resumed = self._stage_begin("stage1")
        start = self.real_loss(self.graph)
        best, curve = self.fit_filters(self.graph, self.config.iters1, self.config.lr1, "Stage I (filters)",
                                       stage="stage1", resumed=resumed)
        self.graph.set_normalized(best)
        end, self.renders["stage1"] = self.real_eval(self.graph)
        self.records.append(StageRecord("stage1", start, end, curve, time.perf_counter() - t0))
        self.log(f"Stage I: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")

    def fit_filters(self, graph: Graph, iters: int, lr: float, desc: str, record_frames: bool = True,
                    stage: str | None = None, resumed: Mapping[str, Any] | None = None) -> tuple[Values, list[float]]:
        """Adam on ``graph``'s optimizable filter parameters, its generators' real outputs held fixed
        (Stages I and III, the sweep's re-fits): the best filter values and the loss curve
        (``stage``, ``resumed``: checkpoints within the loop, see :meth:`adam`)."""
        frozen = self.real_outputs(graph)
        values = self.movable(graph.normalized("filters", optimizable_only=True))
        return self.adam(values, lambda p: self.render_maps(graph.evaluate(self.config.res, p, frozen=frozen, device=self.device)),
                         iters, lr, desc, bounds=self.free, record_frames=record_frames, stage=stage, resumed=resumed)

    def refit_filters(self, graph: Graph, iters: int) -> tuple[float, Values]:
        """The sweep's short re-fit of ``graph``'s filters: (lowest loss, its filter values)."""
        best, curve = self.fit_filters(graph, iters, self.config.lr1, "Category sweep (re-fit)", record_frames=False)
        return (min(curve) if curve else self.real_loss(graph)), best

    def sweep(self) -> None:
        """Category sweep: see the module docstring."""
        t0 = time.perf_counter()
        before = self.graph.copy()
        start = self.real_loss(self.graph)
        if not self.category_trials(self.graph):
            self.records.append(StageRecord("sweep", start, start, [start], time.perf_counter() - t0,
                                            "no categorical generator parameters"))
            return
        rng = random.Random(self.config.seed)
        best_loss, best_filters = self.refit_filters(self.graph, self.config.sweep_iters)
        curve, tried, changes = [best_loss], 0, []
        for _ in range(max(self.config.sweep_rounds, 1)):
            trials = self.category_trials(self.graph)
            if len(trials) > self.config.sweep_max:
                trials = rng.sample(trials, self.config.sweep_max)
            winner = None
            proxied = set(self._applicable_proxies(quiet=True))
            for key, value in trials:
                graph = self.graph.copy()
                graph.set_param(*key.split(".", 1), value)
                loss, filters = self.refit_filters(graph, self.config.sweep_iters)
                tried += 1
                keeps_proxies = proxied <= set(self._applicable_proxies(quiet=True, graph=graph))
                if loss < best_loss * (1.0 - (STAGE2_MIN_GAIN if keeps_proxies else self.config.sweep_proxy_margin)):
                    best_loss, best_filters, winner = loss, filters, (key, value, graph)
            curve.append(best_loss)
            if winner is None:
                break
            key, value, self.graph = winner
            changes.append(f"{key}={value}")
        self.graph.set_normalized(best_filters)
        end, render_end = self.real_eval(self.graph)
        if end > start:  # cannot happen (each re-fit's first loss is its start's), kept as a guard
            self.graph, end, changes = before, start, []
        if changes:  # the report shows the new categories; Stage II uses the proxies that still fit
            self.renders["sweep"] = render_end
            self.proxy_nodes = self._applicable_proxies()
        note = f"{tried} trials; " + (f"changed {', '.join(changes)}" if changes else "no category changed")
        self.records.append(StageRecord("sweep", start, end, curve, time.perf_counter() - t0, note))
        self.log(f"Category sweep: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s ({note})")

    def sample_generator_values(self, n: int) -> Values:
        """``n`` random normalized generator parameter vectors (B, 1) per key, inside each spec's sampling box."""
        out: Values = {}
        for key, (u_lo, u_hi) in self.generator_bounds().items():
            out[key] = (u_lo + (u_hi - u_lo) * torch.rand(n, 1, generator=self._gen)).to(self.device)
        return out

    def sample_local_values(self, current: Values, n: int) -> Values:
        """``n`` perturbations of ``current`` (uniform, +-``local_radius`` normalized), clipped to the sampling box."""
        out: Values = {}
        r = self.config.local_radius
        for key, (u_lo, u_hi) in self.generator_bounds().items():
            noise = (torch.rand(n, 1, generator=self._gen) * 2 - 1) * r
            centre = current[key].detach().reshape(1, -1)[:, :1].cpu()
            out[key] = (centre + noise).clamp(min(u_lo, u_hi), max(u_lo, u_hi)).to(self.device)
        return out

    def search_candidates(self, current: Values) -> Values:
        """Candidate 0 = ``current``, then local perturbations of it, then samples over the whole box."""
        n = max(self.config.samples, 1)
        n_local = min(n, max(0, round(n * self.config.local_fraction)))
        parts = [{k: v.reshape(1, -1).to(self.device) for k, v in current.items()}]
        if n_local:
            parts.append(self.sample_local_values(current, n_local))
        if n - n_local:
            parts.append(self.sample_generator_values(n - n_local))
        return {k: torch.cat([part[k] for part in parts]) for k in current}

    def search(self, filters: Values, candidates: Values, real: bool = False) -> tuple[torch.Tensor, int]:
        """Loss of each candidate through the proxies (``real``: the real generators); returns (losses, best index)."""
        n = next(iter(candidates.values())).shape[0] if candidates else 1
        hook = self.real_hook if real else self.proxy_hook
        losses = []
        with torch.no_grad():
            for s in range(0, n, self.config.search_batch):
                batch = {k: v[s: s + self.config.search_batch] for k, v in candidates.items()}
                maps = self.graph.evaluate(self.config.res, {**filters, **batch}, generator_hook=hook, device=self.device)
                losses.append(self.loss.per_image(self.render_maps(maps)))
        all_losses = torch.cat(losses)
        return all_losses, int(torch.argmin(all_losses))

    def rescore(self, filters: Values, candidates: Values, proxy_losses: torch.Tensor) -> tuple[float, int]:
        """Real-generator loss of candidate 0 and the ``config.rescore`` best by proxy loss: (lowest, its index)."""
        k = min(self.config.rescore, proxy_losses.numel())
        top = torch.argsort(proxy_losses)[:k].tolist()
        idx = [0] + [i for i in top if i != 0]
        subset = {key: v[idx] for key, v in candidates.items()}
        losses, best = self.search(filters, subset, real=True)
        return float(losses[best]), idx[best]

    def refit_candidates(self, filters: Values, candidates: Values, iters: int) -> tuple[torch.Tensor, Values]:
        """Re-fit the filters to each candidate's real generator outputs: ``iters`` Adam iterations, one
        independent fit per candidate, ``search_batch`` at a time. Returns each candidate's lowest loss
        (first iteration included, i.e. ``filters`` as given) and the filter values that gave it (B, size)."""
        n = next(iter(candidates.values())).shape[0]
        step = max(self.config.search_batch, 1)
        losses, fits = [], []
        bar = self.bars.loop(total=math.ceil(n / step) * max(iters, 1), desc="Stage II search (filter re-fits)", units=step)
        for s in range(0, n, step):
            batch = {k: v[s: s + step].detach() for k, v in candidates.items()}
            b = next(iter(batch.values())).shape[0]
            frozen: dict[str, torch.Tensor] = {}

            def real_once(name, spec, real, norm, res, seed):  # noqa: ANN001, ANN202 - a generator hook
                if name not in frozen:  # the batch's real outputs, rendered at the first iteration and kept
                    frozen[name] = self.real_hook(name, spec, real, norm, res, seed)
                return frozen[name]

            params = {k: v.detach().reshape(1, -1).expand(b, -1).clone().to(self.device).requires_grad_(True)
                      for k, v in filters.items()}
            opt = torch.optim.Adam(list(params.values()), lr=self.config.lr1) if params else None
            best = torch.full((b,), math.inf)
            best_fit = {k: v.detach().clone() for k, v in params.items()}
            for it in range(max(iters, 1)):
                per = self.loss.per_image(self.render_maps(
                    self.graph.evaluate(self.config.res, {**params, **batch}, generator_hook=real_once, device=self.device)))
                now = per.detach().cpu()
                better = now < best
                best = torch.where(better, now, best)
                for k, v in params.items():
                    best_fit[k][better] = v.detach()[better]
                bar.update(1)
                if opt is None or it >= iters - 1:
                    break
                opt.zero_grad(set_to_none=True)
                per.sum().backward()
                opt.step()
                with torch.no_grad():
                    for k, v in params.items():
                        v.clamp_(*(self.free or {}).get(k, (0.0, 1.0)))
            losses.append(best)
            fits.append(best_fit)
        bar.close()
        return torch.cat(losses), {k: torch.cat([f[k] for f in fits]) for k in filters}

    def refit_search(self, filters: Values, candidates: Values, losses: torch.Tensor,
                     chosen: int) -> tuple[float, int, Values]:
        """Re-fit the filters to candidate 0, ``chosen`` and the ``search_refit`` lowest-loss candidates
        (``search_refit_iters`` each) and keep the lowest: (its loss, its index, its filters)."""
        order = [0, chosen] + torch.argsort(losses).tolist()
        idx = list(dict.fromkeys(order))[: self.config.search_refit + 2]
        subset = {k: v[idx] for k, v in candidates.items()}
        refit, fits = self.refit_candidates(filters, subset, self.config.search_refit_iters)
        j = int(torch.argmin(refit))
        rank = int((losses < losses[idx[j]]).sum())
        self.log(f"Stage II search: filters re-fit to {len(idx)} candidates ({self.config.search_refit_iters} iterations each): "
                 f"loss {float(refit[j]):.4f} for sample {idx[j]} (rank {rank + 1} of {len(losses)} by its search loss)")
        return float(refit[j]), idx[j], {k: v[j] for k, v in fits.items()}

    def stage2(self) -> None:
        t0, resumed = self._stage_begin("stage2")
        start = self.real_loss(self.graph)
        gen_now = self.movable(self.graph.normalized("generators"))
        filters = self.movable(self.graph.normalized("filters", optimizable_only=True))
        if resumed is None:
            filters, gen_now, note = self._stage2_search(filters, gen_now)
        else:  # the search was done by the killed run: its Adam loop goes on
            note = resumed["note"]
            gen_now = {k: resumed["params"][k] for k in gen_now}
        # Proxy-driven parameters stay inside the sampling box the proxy was trained on.
        bounds = {**(self.free or {}),
                  **{k: b for k, b in self.generator_bounds().items() if k.split(".")[0] in self.proxy_nodes}}
        values = {**filters, **gen_now}
        check = RealCheck(self.values_loss, self.config.stage2_patience) if self.config.stage2_check > 0 else None
        best, curve = self.adam(values, lambda p: self.render_maps(self.graph.evaluate(self.config.res, p, generator_hook=self.proxy_hook, device=self.device)),
                                self.config.iters2, self.config.lr2, "Stage II (joint, proxies)", bounds=bounds,
                                monitor=check, check_every=self.config.stage2_check, stage="stage2", resumed=resumed,
                                extra={"note": note})
        self.graph.set_normalized(best)
        end, self.renders["stage2"] = self.real_eval(self.graph)
        if check is not None:
            note = "; ".join(filter(None, [note, self._stage2_check_note(check, len(curve), end)]))
            if check.best_values is not None and check.best_loss < end:
                self.graph.set_normalized(check.best_values)
                end, self.renders["stage2"] = self.real_eval(self.graph)
        self.records.append(StageRecord("stage2", start, end, curve, time.perf_counter() - t0, note))
        missing = sorted({k.split(".")[0] for k in gen_now} - set(self.proxy_nodes))
        if missing:
            self.log(f"Stage II: no proxy for node(s) {', '.join(missing)}; their parameters only move by random search"
                     + (" and the polish" if self.config.polish > 0 else ""))
        self.log(f"Stage II: loss (real generators) {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")

    def _stage2_search(self, filters: Values, gen_now: Values) -> tuple[Values, Values, str]:
        """Stage II's random search (see the module docstring): the filters and generator values to start
        the joint Adam from, and a note (Stage I discarded)."""
        note = ""
        if self.config.random_search and gen_now:
            cands = self.search_candidates(gen_now)
            options = [("current", filters)]
            if any(r.name == "stage1" for r in self.records):
                options.append(("initial", self.movable(self.initial.normalized("filters", optimizable_only=True))))
            results = []
            use_real = self.config.rescore > 0 and bool(self.proxy_nodes)
            for label, fvals in options:
                losses, idx = self.search(fvals, cands)
                self.log(f"Stage II search ({label} filters): best proxy loss {float(losses[idx]):.4f} "
                         f"(sample {idx} of {len(losses)}; current parameters {float(losses[0]):.4f})")
                best_loss = float(losses[idx])
                if use_real:
                    best_loss, idx = self.rescore(fvals, cands, losses)
                    self.log(f"Stage II search ({label} filters): real-generator loss {best_loss:.4f} for sample {idx}, "
                             f"the best of the {min(self.config.rescore, len(losses))} lowest proxy losses and the current parameters")
                if label == "current" and self.config.search_refit > 0:
                    best_loss, idx, fvals = self.refit_search(fvals, cands, losses, idx)
                results.append((best_loss, label, fvals, idx))
            best_loss, label, filters, idx = min(results, key=lambda r: r[0])
            if label == "initial":
                note = "Stage I discarded: starting Stage II from the initial filters gave a lower loss (supplemental 3.2)"
                self.log(note)
            gen_now = {k: v[idx] for k, v in cands.items()}
        return filters, gen_now, note

    def values_loss(self, values: Values) -> float:
        """Real-generator loss of the graph with ``values`` (normalized) set."""
        graph = self.graph.copy()
        graph.set_normalized(values)
        return self.real_loss(graph)

    def _stage2_check_note(self, check: RealCheck, iters_run: int, proxy_best_loss: float) -> str:
        """What the real-generator checks decided, for the log and the stage record."""
        parts = []
        if check.exhausted and iters_run < self.config.iters2:
            parts.append(f"stopped after {iters_run} of {self.config.iters2} iterations: no real-generator gain "
                         f"in {check.patience} checks")
        if check.best_values is not None and check.best_loss < proxy_best_loss:
            parts.append(f"kept iteration {check.best_iter} (real loss {check.best_loss:.4f}, "
                         f"against {proxy_best_loss:.4f} at the lowest proxy loss)")
        text = "; ".join(parts)
        if text:
            self.log(f"Stage II: {text}")
        return text

    def polish(self) -> None:
        """Greedy local search with real renders on the generator parameters (and the filters with
        ``polish_filters``); see the module docstring."""
        import numpy as np

        from .gradient_free import Objective, perturb

        t0, resumed = self._stage_begin("polish")
        start = self.real_loss(self.graph)
        if self.best is not None and self.best["loss"] < start:  # e.g. a coarse proxy led Stage II astray
            self.log(f"Polish: starting from {self.best['stage']} (real-generator loss {self.best['loss']:.4f}), "
                     f"below the current {start:.4f}")
            self.graph = Graph.from_dict(self.best["graph"])
            start = self.real_loss(self.graph)
        obj = Objective(self.graph, self.target, self.loss, res=self.config.res, settings=self.config.render,
                        batch_size=self.config.search_batch, device=self.device)
        generators = set(self.graph.param_specs("generators"))
        free = self.free or {}
        movable = np.concatenate([np.full(s.stop - s.start, (self.config.polish_filters or key in generators)
                                          and (self.free is None or key in free))
                                  for key, s in zip(obj.layout.keys, obj.layout.slices)] or [np.zeros(0, bool)])
        lo, hi = (np.concatenate([np.full(s.stop - s.start, free.get(key, (0.0, 1.0))[j])
                                  for key, s in zip(obj.layout.keys, obj.layout.slices)] or [np.zeros(0)]) for j in (0, 1))
        if not movable.any():
            self.records.append(StageRecord("polish", start, start, [start], time.perf_counter() - t0, "nothing to move"))
            return
        steps = obj.layout.steps[movable]
        x = obj.x0.copy()
        rng = np.random.default_rng(self.config.seed)
        radius, best_loss, curve, accepted = self.config.polish_radius, start, [start], 0
        rounds = math.ceil(self.config.polish / max(self.config.search_batch, 1))
        first = 0
        if resumed is not None:
            first, radius, best_loss, accepted = resumed["it"], resumed["radius"], resumed["best_loss"], resumed["accepted"]
            x, curve, rng.bit_generator.state = resumed["x"].numpy().copy(), list(resumed["curve"]), resumed["rng"]
        for it in self.bars.loop(range(first, rounds), desc="Polish (real generators)", units=self.config.search_batch * NO_GRAD):
            if self._checkpoint_due():
                self.save_checkpoint({"stage": "polish", "it": it, "elapsed": time.perf_counter() - t0,
                                      "x": torch.from_numpy(x.copy()), "radius": radius, "best_loss": best_loss,
                                      "curve": curve, "accepted": accepted, "rng": rng.bit_generator.state})
            batch = np.repeat(x[None], self.config.search_batch, axis=0)
            for row in batch:
                row[movable] = perturb(x[movable], steps, rng, self.config.polish_prob, radius)
                if self.free is not None:
                    row[:] = np.clip(row, lo, hi)
            losses = obj.f_batch(batch)
            i = int(np.argmin(losses))
            improved = bool(losses[i] < best_loss)
            if improved:
                best_loss, x, accepted = float(losses[i]), obj.snap(batch[i]), accepted + 1
            radius = next_radius(radius, improved, self.config.polish_grow)
            curve.append(best_loss)
        obj.apply(self.graph, x)
        end, self.renders["polish"] = self.real_eval(self.graph)
        self.records.append(StageRecord("polish", start, end, curve, time.perf_counter() - t0,
                                        f"{accepted} of {rounds} rounds improved"))
        self.log(f"Polish: loss (real generators) {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s "
                 f"({accepted} of {rounds} rounds improved)")

    def stage3(self) -> None:
        t0, resumed = self._stage_begin("stage3")
        start = self.real_loss(self.graph)
        best, curve = self.fit_filters(self.graph, self.config.iters3, self.config.lr3, "Stage III (real generators)",
                                       stage="stage3", resumed=resumed)
        self.graph.set_normalized(best)
        end, self.renders["stage3"] = self.real_eval(self.graph)
        self.records.append(StageRecord("stage3", start, end, curve, time.perf_counter() - t0))
        self.log(f"Stage III: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")

    # ------------------------------------------------------------ checkpoint
    def _ckpt_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "checkpoints" / "state.json"

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must have been made with to be resumed (see :mod:`.checkpoint`)."""
        if self._identity is None:
            self._identity = ckpt.run_identity(self.initial.to_dict(), self.config.result_settings(), self.target_id,
                                               self.proxies)
        return self._identity

    def _checkpoint_due(self) -> bool:
        return self.out_dir is not None and time.monotonic() - self._saved_at >= self.checkpoint_every

    def save_checkpoint(self, partial: Mapping[str, Any] | None = None) -> None:
        """Save the run (finished stages, current graph, RNG, frame count) and ``partial``, the state of an
        unfinished stage; atomic, so a kill leaves the previous checkpoint or this one."""
        path = self._ckpt_path()
        if path is None:
            return
        text = ckpt.state_json(self.identity(), self.graph.to_dict(), [asdict(r) for r in self.records], self.best,
                               self._frames, self._gen.get_state(), partial)
        atomic_write_text(path, text)
        self._saved_at = time.monotonic()

    def load_checkpoint(self, fresh: bool = False) -> bool:
        """Open the output folder's checkpoint, before any work; True when the run resumes from it.

        A checkpoint of another run, or a malformed one, raises :class:`~.checkpoint.CheckpointError`
        and changes nothing. ``fresh`` removes the checkpoint instead. Progression frames written after
        the checkpoint (or all of them, without one) are removed, so the GIF shows this run alone."""
        self._opened = True
        path = self._ckpt_path()
        if path is None:
            return False
        if fresh and path.is_file():
            path.unlink()
            self.log(f"--fresh: removed the checkpoint {path}")
        state = None
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except OSError as err:
                raise ckpt.CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
            except ValueError:
                raise ckpt.CheckpointError(f"{path} is not a proxymat checkpoint (not valid JSON)") from None
            state = ckpt.parse_state(data, self.identity(), str(path))
            ckpt.check_partial(state, str(path))
        self._drop_frames(state.frames if state else 0)
        if state is None:
            return False
        self.graph = Graph.from_dict(state.graph)
        self.proxy_nodes = self._applicable_proxies(quiet=True)  # a category sweep may have changed them
        self.records = [StageRecord(**r) for r in state.records]
        self.best, self._frames, self._partial = state.best, state.frames, state.partial
        if state.rng is not None:
            self._gen.set_state(state.rng)
        where = f"{self._partial['stage']} at step {self._partial['it']}" if self._partial else "the finished stages"
        self.log(f"resuming from {path}: after {', '.join(r.name for r in self.records) or 'start'}"
                 + (f", within {where}" if self._partial else ""))
        return True

    def _drop_frames(self, keep: int) -> None:
        """Remove the progression frames numbered ``keep`` and above (a killed or an earlier run's)."""
        n = 0 if self.out_dir is None else ckpt.drop_frames(self.out_dir / "frames", keep)
        if n:
            self.log(f"removed {n} progression frame(s) of "
                     + ("an earlier run" if keep == 0 else "the killed run written after its checkpoint"))

    # ------------------------------------------------------------------ run
    def note_best(self, stage: str, loss: float) -> None:
        """Remember the graph with the lowest real-generator loss so far."""
        if self.best is None or loss < self.best["loss"]:
            self.best = {"stage": stage, "loss": loss, "graph": self.graph.to_dict()}

    def run(self) -> OptimizeResult:
        """Run the stages not finished yet (reading the checkpoint first unless :meth:`load_checkpoint` did)."""
        t0 = time.perf_counter()
        if not self._opened:
            self.load_checkpoint()
        init_loss, self.renders["init"] = self.real_eval(self.initial)
        if self.best is None:
            self.note_best("initial", init_loss)
        done = {r.name for r in self.records}
        plan = [("stage1", self.config.stage1, self.stage1),
                ("sweep", self.config.stage2 and self.config.sweep_iters > 0, self.sweep),
                ("stage2", self.config.stage2, self.stage2),
                ("polish", self.config.stage2 and self.config.polish > 0, self.polish), ("stage3", self.config.stage3, self.stage3)]
        self.bars = RunProgress(planned_work(self.config, len(self.category_trials(self.graph))), self.progress)
        for name in done:
            self.bars.finish_stage(name)
        for name, enabled, fn in plan:
            if not enabled or name in done:
                continue
            fn()
            self.bars.finish_stage(name)
            self.note_best(name, self.records[-1].loss_end)
            self.save_checkpoint()
        if self.best is not None and self.best["loss"] < self.real_loss(self.graph):
            self.log(f"final result taken from {self.best['stage']} (real-generator loss {self.best['loss']:.4f}), "
                     "the lowest of all stages")
            self.graph = Graph.from_dict(self.best["graph"])
        loss_final, self.renders["final"] = self.real_eval(self.graph)
        self.bars.close()
        return OptimizeResult(self.graph, self.records, self.renders, loss_final, time.perf_counter() - t0)

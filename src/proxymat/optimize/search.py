"""Stage II's random search over the generator parameters, which picks the start of its joint Adam.

The current values are candidate 0, so the search never loses ground; a
``local_fraction`` of the ``samples`` perturb the current values by up to
``local_radius`` of each parameter's range, the rest are drawn over the whole
sampling box (where the proxies were trained). Candidates are scored through
the proxies; the ``rescore`` candidates with the lowest proxy loss, and
candidate 0, are rendered again with the real generators and the lowest real
loss wins (a coarse proxy can rank candidates wrongly; ``rescore=0`` keeps the
paper's proxy-only choice). With ``search_refit`` (not in the paper; 0 turns it
off) the filters are then re-fit to candidate 0, the chosen candidate and the
``search_refit`` candidates with the lowest search loss, by
``search_refit_iters`` Adam iterations each with the real generators (one
independent fit per candidate, batched), and the lowest loss after the re-fit
picks the start: filters fit to the current generator values make better
values look worse (on the leather example at 128 px, the true cells values
scored 0.064 with the filters of a finished run, whose own cells values scored
0.043, and 0.011 after a 25-iteration re-fit). If starting from the initial
filters beats starting from Stage I's, Stage I is discarded (supplemental
section 3.2) and the log says so.

The search's work is a sequence of batches (proxy losses, real-generator
rescores, filter re-fits), each a pure function of the candidates and of the
batches before it. Before a batch, once ``checkpoint_every`` seconds have passed,
Stage II saves a checkpoint holding the candidates and the results of the
finished batches (:class:`Batches`); a resumed run takes those results instead
of computing them again and goes on with the same results.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch

from .objective import layout_seeds, reseeded
from .records import Values

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost


class Batches:
    """The batches of one search, in order: those a killed run finished are replayed from its checkpoint,
    the others computed, each after a checkpoint (through ``host``) once one is due."""

    def __init__(self, host: StageHost, device: torch.device, candidates: Values,
                 done: list[dict[str, Any]] | None = None):
        self.host, self.device, self.candidates = host, device, candidates
        self.done = list(done or [])
        self.next = 0

    def __call__(self, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The next batch's result: ``compute()`` (a dict of tensors), or the killed run's."""
        if self.replays():
            out = {k: to_device(v, self.device) for k, v in self.done[self.next].items()}
        else:
            if self.host.checkpoint_due():
                self.host.save_checkpoint(self.state())
            out = compute()
            self.done.append(out)
        self.next += 1
        return out

    def replays(self) -> bool:
        """True when the next batch is one the killed run finished."""
        return self.next < len(self.done)

    def state(self) -> dict[str, Any]:
        """The checkpoint state of Stage II within its search: the candidates and the finished batches."""
        return {"stage": "stage2", "it": len(self.done), "elapsed": time.perf_counter() - self.host.stage_t0,
                "search": {"candidates": self.candidates, "done": self.done}}


def to_device(value: Any, device: torch.device) -> Any:
    """A tensor, or a dict of them, on ``device``."""
    if isinstance(value, dict):
        return {k: v.to(device) for k, v in value.items()}
    return value.to(device)


class RandomSearch:
    """The search of one run over its evaluator's parameter vector (its RNG is the evaluator's, so resumed
    runs draw the same candidates); ``host`` gives the progress bars and the checkpoints."""

    def __init__(self, ev: Evaluator, host: StageHost):
        self.ev = ev
        self.host = host
        self.batches: Batches | None = None  # the running search's batches (:meth:`choose_start`)

    def batch(self, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``compute()``, through the running search's :class:`Batches` when there is one."""
        return compute() if self.batches is None else self.batches(compute)

    def sample_generator_values(self, n: int) -> Values:
        """``n`` random normalized generator parameter vectors (B, 1) per key, inside each spec's sampling box."""
        ev = self.ev
        drawn = ev.graph.space().uniform(ev.generator_bounds(), n, ev.rng)
        return {k: v.to(ev.device) for k, v in drawn.items()}

    def sample_local_values(self, current: Values, n: int) -> Values:
        """``n`` perturbations of ``current`` (uniform, +-``local_radius`` normalized), clipped to the sampling box."""
        ev = self.ev
        out: Values = {}
        r = ev.config.local_radius
        for key, (u_lo, u_hi) in ev.generator_bounds().items():
            noise = (torch.rand(n, 1, generator=ev.rng) * 2 - 1) * r
            centre = current[key].detach().reshape(1, -1)[:, :1].cpu()
            out[key] = (centre + noise).clamp(min(u_lo, u_hi), max(u_lo, u_hi)).to(ev.device)
        return out

    def candidates(self, current: Values) -> Values:
        """Candidate 0 = ``current``, then local perturbations of it, then samples over the whole box."""
        config, device = self.ev.config, self.ev.device
        n = max(config.samples, 1)
        n_local = min(n, max(0, round(n * config.local_fraction)))
        parts = [{k: v.reshape(1, -1).to(device) for k, v in current.items()}]
        if n_local:
            parts.append(self.sample_local_values(current, n_local))
        if n - n_local:
            parts.append(self.sample_generator_values(n - n_local))
        return {k: torch.cat([part[k] for part in parts]) for k in current}

    def losses(self, filters: Values, candidates: Values, real: bool = False) -> tuple[torch.Tensor, int]:
        """Loss of each candidate through the proxies (``real``: the real generators); returns (losses, best index)."""
        ev = self.ev
        n = next(iter(candidates.values())).shape[0] if candidates else 1
        hook = ev.real_hook if real else ev.proxy_hook
        step = ev.config.search_batch
        program = ev.graph.compile()
        losses = []

        def one(s: int) -> dict[str, Any]:
            batch = {k: v[s: s + step] for k, v in candidates.items()}
            with torch.no_grad():
                return {"losses": ev.loss.per_image(ev.render_values(program, {**filters, **batch}, hook=hook))}

        for s in range(0, n, step):
            losses.append(self.batch(partial(one, s))["losses"])
        all_losses = torch.cat(losses)
        return all_losses, int(torch.argmin(all_losses))

    def rescore(self, filters: Values, candidates: Values, proxy_losses: torch.Tensor) -> tuple[float, int]:
        """Real-generator loss of candidate 0 and the ``config.rescore`` best by proxy loss: (lowest, its index)."""
        k = min(self.ev.config.rescore, proxy_losses.numel())
        top = torch.argsort(proxy_losses)[:k].tolist()
        idx = [0] + [i for i in top if i != 0]
        subset = {key: v[idx] for key, v in candidates.items()}
        losses, best = self.losses(filters, subset, real=True)
        return float(losses[best]), idx[best]

    def refit_candidates(self, filters: Values, candidates: Values, iters: int) -> tuple[torch.Tensor, Values]:
        """Re-fit the filters to each candidate's real generator outputs: ``iters`` Adam iterations, one
        independent fit per candidate, ``search_batch`` at a time. Returns each candidate's lowest loss
        (first iteration included, i.e. ``filters`` as given) and the filter values that gave it (B, size)."""
        ev = self.ev
        n = next(iter(candidates.values())).shape[0]
        step = max(ev.config.search_batch, 1)
        program = ev.graph.compile()
        losses, fits = [], []
        bar = self.host.bars.loop(total=math.ceil(n / step) * max(iters, 1), desc="Stage II search (filter re-fits)", units=step)

        def one(s: int) -> dict[str, Any]:
            batch = {k: v[s: s + step].detach() for k, v in candidates.items()}
            b = next(iter(batch.values())).shape[0]
            frozen: dict[str, torch.Tensor] = {}

            def real_once(name, spec, real, norm, res, seed):  # noqa: ANN001, ANN202 - a generator hook
                if name not in frozen:  # the batch's real outputs, rendered at the first iteration and kept
                    frozen[name] = ev.real_hook(name, spec, real, norm, res, seed)
                return frozen[name]

            params = {k: v.detach().reshape(1, -1).expand(b, -1).clone().to(ev.device).requires_grad_(True)
                      for k, v in filters.items()}
            opt = torch.optim.Adam(list(params.values()), lr=ev.config.lr1) if params else None
            best = torch.full((b,), math.inf)
            best_fit = {k: v.detach().clone() for k, v in params.items()}
            for it in range(max(iters, 1)):
                per = ev.loss.per_image(ev.render_values(program, {**params, **batch}, hook=real_once))
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
                        v.clamp_(*(ev.free or {}).get(k, (0.0, 1.0)))
            return {"losses": best, "fits": best_fit}

        for s in range(0, n, step):
            if self.batches is not None and self.batches.replays():
                bar.update(max(iters, 1))
            out = self.batch(partial(one, s))
            losses.append(out["losses"])
            fits.append(out["fits"])
        bar.close()
        return torch.cat(losses), {k: torch.cat([f[k] for f in fits]) for k in filters}

    def refit_search(self, filters: Values, candidates: Values, losses: torch.Tensor,
                     chosen: int) -> tuple[float, int, Values]:
        """Re-fit the filters to candidate 0, ``chosen`` and the ``search_refit`` lowest-loss candidates
        (``search_refit_iters`` each) and keep the lowest: (its loss, its index, its filters)."""
        ev = self.ev
        order = [0, chosen] + torch.argsort(losses).tolist()
        idx = list(dict.fromkeys(order))[: ev.config.search_refit + 2]
        subset = {k: v[idx] for k, v in candidates.items()}
        refit, fits = self.refit_candidates(filters, subset, ev.config.search_refit_iters)
        layouts = max(int(ev.config.search_layouts), 1)
        score = refit if layouts == 1 else (refit + self.other_layouts_losses(fits, subset, layouts)) / layouts
        j = int(torch.argmin(score))
        rank = int((losses < losses[idx[j]]).sum())
        mean = "" if layouts == 1 else f", mean over {layouts} layouts {float(score[j]):.4f}"
        ev.log(f"Stage II search: filters re-fit to {len(idx)} candidates ({ev.config.search_refit_iters} iterations each): "
                f"loss {float(refit[j]):.4f}{mean} for sample {idx[j]} (rank {rank + 1} of {len(losses)} by its search loss)")
        return float(refit[j]), idx[j], {k: v[j] for k, v in fits.items()}

    def other_layouts_losses(self, fits: Values, candidates: Values, layouts: int) -> torch.Tensor:
        """The summed real-generator loss of each candidate with its re-fit filters at the ``layouts - 1``
        layout seeds after the graph's own (:func:`~.objective.layout_seeds`), ``search_batch`` at a time."""
        ev = self.ev
        n = next(iter(candidates.values())).shape[0]
        step = max(ev.config.search_batch, 1)
        total = torch.zeros(n)
        for seed in layout_seeds(ev.graph.seed, layouts)[1:]:
            program = reseeded(ev.graph, seed).compile()

            def one(s: int, program: Any = program) -> dict[str, Any]:
                batch = {k: v[s: s + step].detach() for k, v in {**fits, **candidates}.items()}
                with torch.no_grad():
                    return {"losses": ev.loss.per_image(ev.render_values(program, batch, hook=ev.real_hook)).cpu()}

            total += torch.cat([self.batch(partial(one, s))["losses"] for s in range(0, n, step)])
        return total

    def choose_start(self, filters: Values, gen_now: Values,
                     resumed: Mapping[str, Any] | None = None) -> tuple[Values, Values, str]:
        """The filters and generator values to start Stage II's joint Adam from, and a note (Stage I
        discarded); see the module docstring. ``resumed``: the search a killed run saved
        (:meth:`Batches.state`), which goes on from its candidates and finished batches."""
        ev = self.ev
        note = ""
        if ev.config.random_search and gen_now:
            if resumed is None:
                cands = self.candidates(gen_now)
            else:
                cands = {k: v.to(ev.device) for k, v in resumed["candidates"].items()}
            self.batches = Batches(self.host, ev.device, cands, None if resumed is None else resumed["done"])
            try:
                filters, idx, note = self.pick(filters, cands)
            finally:
                self.batches = None
            gen_now = {k: v[idx] for k, v in cands.items()}
        return filters, gen_now, note

    def pick(self, filters: Values, cands: Values) -> tuple[Values, int, str]:
        """Score the candidates from the current filters (and the initial ones after Stage I): the
        filters and the candidate to start from, and the note."""
        ev = self.ev
        config = ev.config
        note = ""
        options = [("current", filters)]
        if any(r.name == "stage1" for r in self.host.records):
            options.append(("initial", ev.values("filters", ev.initial)))
        results = []
        use_real = config.rescore > 0 and bool(ev.proxy_nodes)
        for label, fvals in options:
            losses, idx = self.losses(fvals, cands)
            ev.log(f"Stage II search ({label} filters): best proxy loss {float(losses[idx]):.4f} "
                    f"(sample {idx} of {len(losses)}; current parameters {float(losses[0]):.4f})")
            best_loss = float(losses[idx])
            if use_real:
                best_loss, idx = self.rescore(fvals, cands, losses)
                ev.log(f"Stage II search ({label} filters): real-generator loss {best_loss:.4f} for sample {idx}, "
                        f"the best of the {min(config.rescore, len(losses))} lowest proxy losses and the current parameters")
            if label == "current" and config.search_refit > 0:
                best_loss, idx, fvals = self.refit_search(fvals, cands, losses, idx)
            results.append((best_loss, label, fvals, idx))
        best_loss, label, filters, idx = min(results, key=lambda r: r[0])
        if label == "initial":
            note = "Stage I discarded: starting Stage II from the initial filters gave a lower loss (supplemental 3.2)"
            ev.log(note)
        return filters, idx, note

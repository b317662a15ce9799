"""An optimization run: Stages I-III of Hu et al. 2022 (after MATch), with a category sweep, a random
search and a polish, over one :class:`~.evaluator.Evaluator` that owns the parameter vector.

The stages run in this order, each a small object or function of its own module:

* Stage I (:mod:`.filters`): Adam on filter parameters; generator outputs fixed (real generators).
* Count search (:mod:`.counts`): the counts whose layout spectrum matches the target's, filters re-fit.
* Category sweep (:mod:`.sweep`): other choices of categorical generator parameters, filters re-fit.
* Stage II (:mod:`.stage2`): a random search over the generator parameters through the proxies
  (:mod:`.search`), then joint Adam on filters and generators through the proxies, watched by the
  real generators.
* Polish (:mod:`.polish`): a local search on the generator parameters with the real generators.
* Stage III (:mod:`.filters`): real generators back in (discrete parameters rounded), filters
  refined with a smaller learning rate.

Each stage takes the evaluator (the current graph, whose normalized values are the parameter vector
that the stages read and write, its free ranges and sampling boxes, the search RNG, the loss, the
proxies and the renders) and a :class:`~.host.StageHost`: :class:`Optimization`, which runs the stages
in order and keeps the records, renders and the lowest-loss graph so far, progress bars, frames and
checkpoints. The final result is the graph with the lowest real-generator loss of all stages.

A graph that declares ``free`` parameters (see :mod:`.free`) has only those moved, by every stage
(the filter fits, the count search, the sweep, the search, Stage II's Adam, the polish), each within its
declared range.

Each stage ends with a checkpoint, and every stage (Stage I, the count search, the sweep, Stage II's
search and Adam, the polish, Stage III) also saves one every ``checkpoint_every`` seconds (60 by default),
between two of its iterations, trials, nodes or batches, so a killed run loses at most about a minute and one such step.
A rerun into the same output folder resumes from the checkpoint and gives the same result as an
uninterrupted run; it refuses (:class:`~.checkpoint.CheckpointError`) a checkpoint made by another
run: other graph, target, encoding, resolution, settings or proxies (see :mod:`.checkpoint`).
Progression frames written after the last checkpoint are dropped on resume, so the GIF shows one run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ..atomic import atomic_write_text
from ..graph import Graph
from . import checkpoint as ckpt
from .config import OptimizeConfig
from .counts import count_search, node_counts
from .evaluator import Evaluator, ProxyLike, category_trials
from .filters import STAGE1, STAGE3
from .polish import POLISH_RADIUS_RANGE, POLISH_SHRINK, next_radius, polish
from .progress import RunProgress, planned_work
from .records import Log, OptimizeResult, StageRecord, Values
from .stage2 import STAGE2_MIN_GAIN, RealCheck, stage2
from .sweep import sweep

__all__ = ["Optimization", "OptimizeConfig", "OptimizeResult", "StageRecord", "ProxyLike", "RealCheck",
           "STAGE2_MIN_GAIN", "POLISH_RADIUS_RANGE", "POLISH_SHRINK", "next_radius", "category_trials", "Values"]


class Optimization:
    """One optimization run: runs the stages over its :class:`~.evaluator.Evaluator` (which owns the
    parameter vector) and is their :class:`~.host.StageHost` (records, renders, bars, frames, checkpoints)."""

    def __init__(self, graph: Graph, target: torch.Tensor, config: OptimizeConfig = OptimizeConfig(),
                 proxies: Mapping[str, ProxyLike] | None = None, out_dir: Path | None = None,
                 log: Log = print, progress: bool = True, device: torch.device | str = "cpu",
                 target_id: ckpt.TargetId | None = None, checkpoint_every: float = 60.0):
        """``target_id`` names the target in the run's identity (default: a digest of ``target``);
        ``checkpoint_every``: seconds between the checkpoints saved within a stage (with ``out_dir``)."""
        self.device = torch.device(device)
        self.config = config
        self.target = target.to(self.device)
        self.evaluator = Evaluator(graph, self.target, config, proxies or {}, self.device, log)
        self.out_dir = Path(out_dir) if out_dir else None
        self.log = log
        self.progress = progress
        self.bars = RunProgress({}, progress)  # loop bars only; run() adds the overall bar
        self.records: list[StageRecord] = []
        self.renders: dict[str, torch.Tensor] = {}
        self.best: dict[str, Any] | None = None  # {"stage", "loss", "graph"}: lowest real loss seen
        self.target_id = target_id or ckpt.TargetId(ckpt.digest_pixels(self.target))
        self.checkpoint_every = float(checkpoint_every)
        self._identity: dict[str, Any] | None = None
        self._opened = False  # the checkpoint was read (load_checkpoint)
        self._partial: dict[str, Any] | None = None  # the unfinished stage of a resumed run
        self._frames = 0  # progression frames written so far
        self._saved_at = time.monotonic()
        self.stage_t0 = time.perf_counter()

    # ------------------------------------------------------------ the evaluator's state
    @property
    def graph(self) -> Graph:
        """The current graph: the evaluator's parameter vector."""
        return self.evaluator.graph

    @graph.setter
    def graph(self, value: Graph) -> None:
        self.evaluator.graph = value

    @property
    def initial(self) -> Graph:
        return self.evaluator.initial

    @property
    def proxies(self) -> dict[str, ProxyLike]:
        return self.evaluator.proxies

    @property
    def proxy_nodes(self) -> dict[str, ProxyLike]:
        """Generator nodes of the current graph that Stage II evaluates through their proxy."""
        return self.evaluator.proxy_nodes

    @property
    def loss(self) -> Any:
        """The material loss against the target (the evaluator's; assigning replaces it for every stage)."""
        return self.evaluator.loss

    @loss.setter
    def loss(self, value: Any) -> None:
        self.evaluator.loss = value

    # ------------------------------------------------------------ the host
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

    # ------------------------------------------------------------ the stages
    def stage1(self) -> None:
        STAGE1(self.evaluator, self)

    def counts(self) -> None:
        count_search(self.evaluator, self)

    def sweep(self) -> None:
        sweep(self.evaluator, self)

    def stage2(self) -> None:
        stage2(self.evaluator, self)

    def polish(self) -> None:
        polish(self.evaluator, self)

    def stage3(self) -> None:
        STAGE3(self.evaluator, self)

    def stage_begin(self, stage: str) -> tuple[float, dict[str, Any] | None]:
        """(the stage's start time, counting the time a killed run spent in it; its saved state or None)."""
        resumed, self._partial = (self._partial, None) if self._partial and self._partial["stage"] == stage else (None, self._partial)
        self.stage_t0 = time.perf_counter() - (resumed["elapsed"] if resumed else 0.0)
        return self.stage_t0, resumed

    # ------------------------------------------------------------ checkpoint
    def _ckpt_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "checkpoints" / "state.json"

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must have been made with to be resumed (see :mod:`.checkpoint`)."""
        if self._identity is None:
            self._identity = ckpt.run_identity(self.initial.to_dict(), self.config.result_settings(), self.target_id,
                                               self.proxies)
        return self._identity

    def checkpoint_due(self) -> bool:
        return self.out_dir is not None and time.monotonic() - self._saved_at >= self.checkpoint_every

    def save_checkpoint(self, partial: Mapping[str, Any] | None = None) -> None:
        """Save the run (finished stages, current graph, RNG, frame count) and ``partial``, the state of an
        unfinished stage; atomic, so a kill leaves the previous checkpoint or this one."""
        path = self._ckpt_path()
        if path is None:
            return
        text = ckpt.state_json(self.identity(), self.graph.to_dict(), [asdict(r) for r in self.records], self.best,
                               self._frames, self.evaluator.rng.get_state(), partial)
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
        self.evaluator.refresh_proxies(quiet=True)  # a sweep may have changed them
        self.records = [StageRecord(**r) for r in state.records]
        self.best, self._frames, self._partial = state.best, state.frames, state.partial
        if state.rng is not None:
            self.evaluator.rng.set_state(state.rng)
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
        ev = self.evaluator
        init_loss, self.renders["init"] = ev.real_eval(ev.initial)
        if self.best is None:
            self.note_best("initial", init_loss)
        done = {r.name for r in self.records}
        c = self.config
        plan = [("stage1", c.stage1, self.stage1), ("counts", c.stage2 and c.count_search > 0, self.counts),
                ("sweep", c.stage2 and c.sweep_iters > 0, self.sweep),
                ("stage2", c.stage2, self.stage2), ("polish", c.stage2 and c.polish > 0, self.polish),
                ("stage3", c.stage3, self.stage3)]
        self.bars = RunProgress(planned_work(c, len(ev.sweep_trials()), len(node_counts(ev))), self.progress)
        for name in done:
            self.bars.finish_stage(name)
        for name, enabled, fn in plan:
            if not enabled or name in done:
                continue
            fn()
            self.bars.finish_stage(name)
            self.note_best(name, self.records[-1].loss_end)
            self.save_checkpoint()
        if self.best is not None and self.best["loss"] < ev.real_loss():
            self.log(f"final result taken from {self.best['stage']} (real-generator loss {self.best['loss']:.4f}), "
                     "the lowest of all stages")
            self.graph = Graph.from_dict(self.best["graph"])
        loss_final, self.renders["final"] = ev.real_eval()
        self.bars.close()
        return OptimizeResult(self.graph, self.records, self.renders, loss_final, time.perf_counter() - t0)

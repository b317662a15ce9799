"""Fingerprint of the optimizer: run the whole pipeline on small cases and write every result as JSON.

A refactor of :mod:`proxymat.optimize` that keeps behaviour must leave this JSON
byte for byte the same (on one machine, one thread)::

    nice python tools/optimize_fingerprint.py --out /tmp/after.json
    cmp tools/optimize_fingerprint.json /tmp/after.json       # or: --check tools/optimize_fingerprint.json

Cases (64 px, tiny settings, the random texture features, shipped proxies):

* every bundled example with every stage on (category sweep, random search with
  rescoring and filter re-fits, Stage II with real-generator checks, polish, Stage III);
* one example with Stage II off (Stage I then Stage III), one with the search
  off and the polish moving the filters, one with ``rescore=0`` and no Stage II checks,
  one without the sweep (so Stage II keeps its proxy), one without Stage I;
* one library graph that declares ``free`` parameters;
* runs killed within Stage I, the sweep, Stage II's search and its Adam, the polish and
  Stage III (checkpoints at every step) and resumed: each killed run's checkpoint (times
  zeroed) and the resumed result.

Each run records its final graph JSON, each stage's losses, curve and note (full
float repr), the final loss, a digest of each render and the log (times masked).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import torch

from proxymat.examples import list_examples, resolve_graph
from proxymat.graph import Graph
from proxymat.optimize.checkpoint import digest_pixels
from proxymat.optimize.config import OptimizeConfig
from proxymat.optimize.loss_config import material_loss_config
from proxymat.optimize.proxies import load_graph_proxies
from proxymat.optimize.stages import Optimization
from proxymat.render import render

RES = 64
FREE_GRAPH = "leather_grain"  # a library graph with free parameters (generator and filter ones)
KILLS = {"stage1": 5, "counts": 15, "sweep": 30, "search": 44, "stage2": 52, "polish": 55, "stage3": 60}
"""Loss evaluations before a killed leather run stops, by where it stops (a stage, or Stage II's search)."""


def base_config() -> OptimizeConfig:
    return OptimizeConfig(res=RES, iters1=6, iters2=6, iters3=6, samples=8, search_batch=4, rescore=2, polish=8,
                          sweep_iters=3, sweep_max=3, sweep_rounds=2, search_refit=2, search_refit_iters=2,
                          stage2_check=2, stage2_patience=2, frame_every=2,
                          loss=material_loss_config(RES, "random"))


def cases(only: str | None = None) -> list[tuple[str, str, OptimizeConfig]]:
    """``(case name, graph reference, config)`` of every case (``only``: the one of that name)."""
    base = base_config()
    out = [(f"example:{name}", name, base) for name in list_examples()]
    out += [("no-stage2:bricks", "bricks", replace(base, stage2=False)),
            ("no-search+polish-filters:fabric", "fabric", replace(base, random_search=False, polish_filters=True)),
            ("no-rescore-no-check:stone", "stone", replace(base, rescore=0, stage2_check=0, search_refit=0)),
            ("no-sweep:leather", "leather", replace(base, sweep_iters=0)),
            ("no-stage1:plaster", "plaster", replace(base, stage1=False, iters2=10, stage2_patience=3)),
            (f"free:{FREE_GRAPH}", FREE_GRAPH, base)]
    return [c for c in out if only is None or c[0] == only]


def _truth_target(ref: str) -> torch.Tensor:
    """The target of a case: the truth graph of an example (or a moved copy of a library graph) rendered at RES."""
    from proxymat.examples import example_truth_text

    text = example_truth_text(ref)
    truth = Graph.loads(text) if text else _moved(resolve_graph(ref))
    with torch.no_grad():
        return render(truth.evaluate(RES))


def _moved(graph: Graph) -> Graph:
    """A copy of ``graph`` with every free parameter at 30 % of its free range."""
    g = graph.copy()
    specs = g.param_specs()
    for key, (low, high) in g.free.items():
        value = low + 0.3 * (high - low)
        p = specs[key]
        if p.kind == "int":
            value = int(round(value))
        elif p.size > 1:
            value = (value,) * p.size
        g.set_param(*key.split(".", 1), value)
    return g


_TIME = re.compile(r"\d+\.\d+s\b")


def _mask(line: str, out_dir: Path | None) -> str:
    """A log line with times and the output folder masked."""
    line = _TIME.sub("<t>s", line)
    return line if out_dir is None else line.replace(str(out_dir), "<out>")


def _result_json(result: Any, logs: list[str]) -> dict[str, Any]:
    return {"graph": result.graph.to_dict(),
            "records": [{"name": r.name, "loss_start": repr(r.loss_start), "loss_end": repr(r.loss_end),
                         "curve": [repr(v) for v in r.curve], "note": r.note} for r in result.records],
            "loss_final": repr(result.loss_final),
            "renders": {k: digest_pixels(v.detach().cpu().contiguous()) for k, v in sorted(result.renders.items())},
            "render_means": {k: repr(float(v.double().mean())) for k, v in sorted(result.renders.items())},
            "log": logs}


def run_case(name: str, ref: str, config: OptimizeConfig, out_dir: Path | None = None,
             wrap_loss: Callable[[Any], Any] | None = None, checkpoint_every: float = 60.0) -> dict[str, Any]:
    """One case's fingerprint."""
    graph = resolve_graph(ref)
    target = _truth_target(ref)
    quiet: list[str] = []
    proxies = load_graph_proxies(graph, log=quiet.append)
    logs: list[str] = []
    run = Optimization(graph, target, config, proxies=proxies, out_dir=out_dir, progress=False, log=logs.append,
                       checkpoint_every=checkpoint_every)
    if wrap_loss is not None:
        run.loss = wrap_loss(run.loss)
    result = run.run()
    return {"case": name, "proxies": sorted(proxies), **_result_json(result, [_mask(line, out_dir) for line in logs])}


class _Kill(Exception):
    pass


class _StopAfter:
    """A loss that raises :class:`_Kill` at its ``n + 1``-th evaluation."""

    def __init__(self, inner: Any, n: int):
        self.inner, self.n, self.calls = inner, n, 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls > self.n:
            raise _Kill

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        self._tick()
        return self.inner(img)

    def per_image(self, img: torch.Tensor) -> torch.Tensor:
        self._tick()
        return self.inner.per_image(img)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _zero_times(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (0 if k in ("seconds", "elapsed") else _zero_times(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_zero_times(v) for v in data]
    return data


def resume_case(where: str) -> dict[str, Any]:
    """A leather run killed within ``where`` (a checkpoint at every step), its checkpoint, and the resumed result."""
    config = base_config()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        try:
            run_case("killed", "leather", config, out, lambda loss: _StopAfter(loss, KILLS[where]), checkpoint_every=0.0)
        except _Kill:
            pass
        else:
            raise RuntimeError(f"the run killed in {where} finished: raise its count in KILLS")
        state = json.loads((out / "checkpoints" / "state.json").read_text(encoding="utf-8"))
        partial = state["partial"] or {}
        if (partial.get("stage"), "search" in partial) != ("stage2" if where == "search" else where, where == "search"):
            raise RuntimeError(f"the run killed in {where} was killed elsewhere: change its count in KILLS")
        frames = sorted(f.name for f in (out / "frames").glob("*.png"))
        resumed = run_case(f"resume-{where}:leather", "leather", config, out)
    return {**resumed, "killed_checkpoint": _zero_times(state), "killed_frames": frames}


def fingerprint(only: str | None = None, resume: bool = True) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    runs = []
    for name, ref, config in cases(only):
        print(f"{name} ...", file=sys.stderr, flush=True)
        runs.append(run_case(name, ref, config))
    for where in KILLS if resume else ():
        print(f"resume-{where}:leather ...", file=sys.stderr, flush=True)
        runs.append(resume_case(where))
    return runs


def dumps(runs: list[dict[str, Any]]) -> str:
    return json.dumps({"config": asdict(base_config()), "runs": runs}, indent=1, sort_keys=True, default=str) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="write the fingerprint JSON here (default: stdout)")
    ap.add_argument("--check", type=Path, help="compare with this reference; exit 1 when they differ")
    ap.add_argument("--only", help="run only the case of this name (e.g. example:leather); no resume case")
    args = ap.parse_args(argv)
    text = dumps(fingerprint(args.only, resume=args.only is None))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    elif not args.check:
        sys.stdout.write(text)
    if args.check:
        ref = args.check.read_text(encoding="utf-8")
        if ref != text:
            import difflib

            sys.stdout.writelines(list(difflib.unified_diff(ref.splitlines(True), text.splitlines(True),
                                                            str(args.check), "now", n=2))[:200])
            print("fingerprint differs", file=sys.stderr)
            return 1
        print("fingerprint identical", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

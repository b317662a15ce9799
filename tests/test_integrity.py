"""Checkpoints: a run resumes only its own checkpoint, malformed ones are refused before any work,
and a run killed within a stage resumes to the same result (and the same progression frames)."""

import itertools
import json
from dataclasses import replace

import pytest
import torch

from proxymat.optimize import checkpoint as ckpt
from proxymat.optimize import sweep as sweep_module
from proxymat.optimize.checkpoint import CheckpointError, TargetId
from proxymat.optimize.stages import Optimization
from proxymat.render import render
from test_optimize import RES, CountingProxy, config, tiny_graph


class Stop(Exception):
    """Stands for a kill."""


class StopAfter:
    """A loss that raises :class:`Stop` at its ``n + 1``-th evaluation (an observer on the run)."""

    def __init__(self, inner, n: int):
        self.inner, self.n, self.calls = inner, n, 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls > self.n:
            raise Stop

    def __call__(self, img):
        self._tick()
        return self.inner(img)

    def per_image(self, img):
        self._tick()
        return self.inner.per_image(img)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def make_target(scale: int = 6) -> torch.Tensor:
    g = tiny_graph()
    g.set_param("cells", "scale", scale)
    g.set_param("color", "color_4", (0.9, 0.5, 0.2))
    with torch.no_grad():
        return render(g.evaluate(RES))


@pytest.fixture(scope="module")
def target() -> torch.Tensor:
    return make_target()


def new_run(target, out, cfg=None, graph=None, **kw) -> Optimization:
    kw.setdefault("proxies", {"cells": CountingProxy()})
    return Optimization(graph or tiny_graph(), target, cfg or config(frame_every=1), out_dir=out, progress=False,
                        log=kw.pop("log", lambda s: None), **kw)


@pytest.fixture(scope="module")
def reference(target, tmp_path_factory):
    """An uninterrupted run: its result and its progression frames."""
    out = tmp_path_factory.mktemp("ref")
    result = new_run(target, out).run()
    return result, frames_of(out)


def frames_of(out) -> list[bytes]:
    return [f.read_bytes() for f in sorted((out / "frames").glob("*.png"))]


def kill_and_resume(target, out, calls: int, where: str, reference, cfg=None, watch=None) -> dict:
    """Kill a run after ``calls`` loss evaluations (checkpoints at every other step, so frames after the last
    checkpoint exist and must be dropped), check that its checkpoint is within ``where`` (a stage, or
    "search": Stage II's random search), resume it and check that it matches the uninterrupted
    ``reference`` exactly (``watch(run)`` is called on the resumed run first); the killed run's unfinished
    stage state."""
    run = new_run(target, out, cfg=cfg, checkpoint_every=0)
    every_other = itertools.cycle([True, False])
    run.checkpoint_due = lambda: next(every_other)
    run.loss = StopAfter(run.loss, calls)
    with pytest.raises(Stop):
        run.run()
    saved = json.loads((out / "checkpoints" / "state.json").read_text())
    stage = "stage2" if where == "search" else where
    assert saved["partial"]["stage"] == stage and ("search" in saved["partial"]) == (where == "search")
    assert len(frames_of(out)) >= saved["frames"]

    logs: list[str] = []
    resumed = new_run(target, out, cfg=cfg, log=logs.append)
    if watch is not None:
        watch(resumed)
    result = resumed.run()
    assert any(f"within {stage} at step {saved['partial']['it']}" in line for line in logs)
    ref, ref_frames = reference
    assert result.graph.to_dict() == ref.graph.to_dict()
    assert result.loss_final == ref.loss_final
    assert [(r.name, r.curve, r.loss_end, r.note) for r in result.records] == \
        [(r.name, r.curve, r.loss_end, r.note) for r in ref.records]
    assert frames_of(out) == ref_frames  # one run's frames, none of the killed run's twice
    return saved["partial"]


@pytest.mark.parametrize("calls,where", [(5, "stage1"), (29, "search"), (36, "search"), (45, "stage2"), (50, "polish"),
                                         (56, "stage3")])
def test_a_run_killed_within_a_stage_resumes_to_the_uninterrupted_result(calls, where, target, reference, tmp_path):
    kill_and_resume(target, tmp_path, calls, where, reference)


def sweep_config():
    """Two sweep rounds of 3 trials drawn from 6; on :func:`sweep_target` each round changes a category
    (without the layout-noise margin, which keeps the second change, manhattan, out)."""
    return config(frame_every=1, sweep_iters=4, sweep_max=3, sweep_rounds=2, seed=1, sweep_noise=0)


@pytest.fixture(scope="module")
def sweep_target() -> torch.Tensor:
    g = tiny_graph()
    g.set_param("cells", "scale", 6)
    g.set_param("cells", "style", "edges")
    g.set_param("color", "color_4", (0.9, 0.5, 0.2))
    with torch.no_grad():
        return render(g.evaluate(RES))


@pytest.fixture(scope="module")
def sweep_reference(sweep_target, tmp_path_factory):
    """An uninterrupted run whose sweep changes a category in each of its two rounds (so Stage II loses
    the cells proxy, whose style is pinned): its result and its progression frames."""
    out = tmp_path_factory.mktemp("sweep_ref")
    run = new_run(sweep_target, out, cfg=sweep_config())
    with pytest.MonkeyPatch.context() as mp:
        trials = watch_sweep(mp)
        result = run.run()
    assert [r.note for r in result.records if r.name == "sweep"] == ["6 trials; changed cells.style=edges, cells.distance=manhattan"]
    return result, frames_of(out), trials


def watch_sweep(mp: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The (style, distance) of each graph the sweep re-fits, in order (filled as runs go, while ``mp`` holds)."""
    seen: list[tuple[str, str]] = []
    fit = sweep_module.fit_filters

    def watched(ev, host, graph, iters, lr, desc, *args, **kw):
        if desc == "Category sweep (re-fit)":
            seen.append((graph.value("cells.style"), graph.value("cells.distance")))
        return fit(ev, host, graph, iters, lr, desc, *args, **kw)

    mp.setattr(sweep_module, "fit_filters", watched)
    return seen


@pytest.mark.parametrize("calls,where,step", [(25, "sweep", 2), (33, "sweep", 4), (45, "search", 2), (62, "search", 4)])
def test_a_run_killed_within_the_sweep_or_the_search_resumes_to_the_uninterrupted_result(
        calls, where, step, sweep_target, sweep_reference, tmp_path, monkeypatch):
    """The sweep saves before a trial (here in its first round and in its second, whose graph has the first
    round's change) and goes on with the trials the uninterrupted run drew; the search saves before a batch
    (here before its filter re-fits, and before the scores from the initial filters, after them)."""
    seen: list[list[tuple[str, str]]] = []
    partial = kill_and_resume(sweep_target, tmp_path, calls, where, sweep_reference[:2], cfg=sweep_config(),
                              watch=lambda run: seen.append(watch_sweep(monkeypatch)))
    assert partial["it"] == step
    if where == "sweep":
        assert (partial["round"], partial["trial"]) == divmod(step, 3)
        trials = sweep_reference[2]  # the current choices' re-fit, then 3 trials a round
        assert len(trials) == 7 and seen[0] == trials[1 + step:]
    else:
        assert len(partial["search"]["done"]) == step and seen == [[]]


@pytest.fixture(scope="module")
def killed(sweep_target, tmp_path_factory) -> dict[str, str]:
    """The checkpoint texts of runs killed within the sweep (second round) and within the search."""
    out = {}
    for calls, where in ((33, "sweep"), (45, "search")):
        folder = tmp_path_factory.mktemp(where)
        run = new_run(sweep_target, folder, cfg=sweep_config(), checkpoint_every=0)
        run.loss = StopAfter(run.loss, calls)
        with pytest.raises(Stop):
            run.run()
        out[where] = (folder / "checkpoints" / "state.json").read_text()
    return out


def with_state(folder, text: str):
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints" / "state.json").write_text(text)
    return folder


def test_a_resumed_search_takes_its_finished_batches_from_the_checkpoint(killed, sweep_target, tmp_path):
    state = json.loads(killed["search"])
    done = state["partial"]["search"]["done"]
    assert len(done) == 2 and len(state["partial"]["search"]["candidates"]["cells.scale"]["tensor"]["shape"]) == 2
    first = ckpt.decode(done[0]["losses"])
    done[0]["losses"] = ckpt.encode(torch.tensor([1.0, 0.0] + [1.0] * (len(first) - 2)))
    logs: list[str] = []
    new_run(sweep_target, with_state(tmp_path, json.dumps(state)), cfg=sweep_config(), log=logs.append).run()
    assert any("Stage II search (current filters): best proxy loss 0.0000 (sample 1 of 7;" in line for line in logs)


@pytest.mark.parametrize("where", ["sweep", "search"])
def test_a_checkpoint_within_the_sweep_or_the_search_of_another_run_is_refused(where, killed, sweep_target, target,
                                                                              tmp_path):
    folder = with_state(tmp_path, killed[where])
    for run, match in ((new_run(sweep_target, folder, cfg=replace(sweep_config(), sweep_max=2)),
                        r"other settings \(sweep_max 3 there, 2 now\)$"),
                       (new_run(target, folder, cfg=sweep_config()), "another target image$")):
        with pytest.raises(CheckpointError, match=match):
            run.load_checkpoint()
    assert (folder / "checkpoints" / "state.json").read_text() == killed[where]


@pytest.mark.parametrize("where,path,value", [
    ("sweep", "rng", [3, [1, 2], None]),
    ("sweep", "winner", 9),
    ("sweep", "round", -1),
    ("sweep", "before", {"nodes": 3}),
    ("sweep", "best_filters.lv.nope", "copy"),
    ("search", "search.candidates", {}),
    ("search", "search.candidates.cells.nope", "copy"),
    ("search", "search.done", [{"losses": 0.5}]),
    ("search", "search.done.0.fits", {"lv.nope": {"tensor": {"dtype": "float32", "shape": [1, 1], "data": "AAAAAA=="}}}),
])
def test_a_malformed_sweep_or_search_state_is_refused(where, path, value, killed, sweep_target, tmp_path):
    state = json.loads(killed[where])
    node = state["partial"]
    *head, last = path.split(".")
    if value == "copy":  # an unknown parameter key with a known one's value
        head, last = head[:-1], f"{head[-1]}.{last}"
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[k]
    node[last] = next(iter(node.values())) if value == "copy" else value
    folder = with_state(tmp_path, json.dumps(state))
    stage = "stage2" if where == "search" else where
    with pytest.raises(CheckpointError, match=fr"malformed \(the saved state of {stage} does not fit its graph\)"):
        new_run(sweep_target, folder, cfg=sweep_config()).load_checkpoint()


def test_frames_of_an_earlier_run_without_a_checkpoint_are_removed(target, tmp_path):
    (tmp_path / "frames").mkdir()
    for i in range(50):
        (tmp_path / "frames" / f"{i:05d}.png").write_bytes(b"old")
    logs: list[str] = []
    run = new_run(target, tmp_path, log=logs.append, cfg=config(stage2=False, stage3=False, frame_every=1))
    run.run()
    assert len(frames_of(tmp_path)) == 8 and b"old" not in frames_of(tmp_path)
    assert "removed 50 progression frame(s) of an earlier run" in logs


@pytest.fixture(scope="module")
def finished(target, tmp_path_factory):
    """A folder holding the checkpoint of a finished run (Stage I only), and the text of that checkpoint."""
    out = tmp_path_factory.mktemp("done")
    new_run(target, out, cfg=config(stage2=False, stage3=False)).run()
    return out, (out / "checkpoints" / "state.json").read_text()


def refused(run: Optimization, match: str, finished) -> None:
    out, text = finished
    with pytest.raises(CheckpointError, match=match):
        run.load_checkpoint()
    assert (out / "checkpoints" / "state.json").read_text() == text  # nothing changed


def test_another_graph_is_refused(target, finished):
    graph = tiny_graph()
    graph.set_param("lv", "in_high", 0.7)
    run = new_run(target, finished[0], cfg=config(stage2=False, stage3=False), graph=graph)
    refused(run, r"was made by a run with another graph$", finished)


def test_another_target_is_refused(finished):
    run = new_run(make_target(scale=5), finished[0], cfg=config(stage2=False, stage3=False))
    refused(run, "with another target image$", finished)


def test_another_target_encoding_is_refused(target, finished):
    ident = TargetId(ckpt.digest_pixels(target), "", "linear")
    run = new_run(target, finished[0], cfg=config(stage2=False, stage3=False), target_id=ident)
    refused(run, r"another target encoding \( there, linear now\)", finished)


def test_another_resolution_is_refused(target, finished):
    run = new_run(target, finished[0], cfg=config(stage2=False, stage3=False, res=32))
    refused(run, r"another resolution \(64 there, 32 now\)", finished)


def test_other_proxy_weights_are_refused(target, finished):
    proxy = CountingProxy()
    with torch.no_grad():
        next(proxy.parameters()).add_(0.01)
    run = new_run(target, finished[0], cfg=config(stage2=False, stage3=False), proxies={"cells": proxy})
    refused(run, "with other proxies$", finished)


def test_the_same_run_resumes_and_fresh_starts_over(target, finished, tmp_path):
    out = tmp_path / "copy"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "state.json").write_text(finished[1])
    run = new_run(target, out, cfg=config(stage2=False, stage3=False))
    assert run.load_checkpoint() and [r.name for r in run.records] == ["stage1"]
    graph = tiny_graph()
    graph.set_param("lv", "in_high", 0.7)
    other = new_run(target, out, cfg=config(stage2=False, stage3=False), graph=graph)
    assert not other.load_checkpoint(fresh=True)
    assert not (out / "checkpoints" / "state.json").exists() and other.records == []


def _bad(state: dict, path: str, value) -> dict:
    state = json.loads(json.dumps(state))
    *head, last = path.split(".")
    node = state
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return state


@pytest.mark.parametrize("path,value,message", [
    ("records", {"name": "stage1"}, "malformed"),
    ("records.0.curve", "fast", r"record 'stage1' has a bad curve"),
    ("records.0.name", "stage9", "no known stage name"),
    ("graph", [1, 2], "malformed"),
    ("graph.nodes.lv.params.in_high", "high", "malformed"),
    ("best", {"loss": 1}, "'best' lacks its stage or loss"),
    ("frames", -3, "'frames' is not a count"),
    ("rng", "%%%", "malformed"),
    ("partial", {"stage": "stage3", "it": 2, "elapsed": 1.0, "params": {}}, "malformed"),
    ("records", KeyError, r"malformed \(missing 'records'\)"),
    ("format", "x", "is not a proxymat checkpoint$"),
    ("version", 1, "another proxymat version"),
])
def test_a_malformed_checkpoint_is_a_one_line_error_before_any_work(path, value, message, target, finished, tmp_path):
    out = tmp_path / "bad"
    (out / "checkpoints").mkdir(parents=True)
    text = json.dumps(_bad(json.loads(finished[1]), path, value))
    (out / "checkpoints" / "state.json").write_text(text)
    run = new_run(target, out, cfg=config(stage2=False, stage3=False))
    run.loss = StopAfter(run.loss, 0)  # any evaluation would raise Stop
    with pytest.raises(CheckpointError, match=message) as err:
        run.run()
    assert "\n" not in str(err.value)
    assert (out / "checkpoints" / "state.json").read_text() == text


def test_a_partial_state_that_does_not_fit_the_graph_is_refused(target, tmp_path):
    run = new_run(target, tmp_path, cfg=config(stage2=False, stage3=False), checkpoint_every=0)
    run.loss = StopAfter(run.loss, 4)
    with pytest.raises(Stop):
        run.run()
    path = tmp_path / "checkpoints" / "state.json"
    state = json.loads(path.read_text())
    state["partial"]["params"].pop(next(iter(state["partial"]["params"])))
    path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"malformed \(the saved state of stage1 does not fit its graph\)"):
        new_run(target, tmp_path, cfg=config(stage2=False, stage3=False)).load_checkpoint()


def test_invalid_json_is_refused(target, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "state.json").write_text("{")
    with pytest.raises(CheckpointError, match="is not a proxymat checkpoint"):
        new_run(target, tmp_path).load_checkpoint()


def test_tensors_round_trip_bit_for_bit():
    data = {"a": torch.randn(3, 2), "b": [torch.tensor(5, dtype=torch.int64), 1.5], "c": torch.zeros(0)}
    back = ckpt.decode(json.loads(json.dumps(ckpt.encode(data))))
    assert torch.equal(back["a"], data["a"]) and back["a"].dtype == torch.float32
    assert torch.equal(back["b"][0], data["b"][0]) and back["b"][1] == 1.5 and back["c"].shape == (0,)


def test_settings_are_all_part_of_the_identity(target):
    base = new_run(target, None, cfg=config()).identity()
    for change in ({"lr1": 0.04}, {"polish_filters": True}, {"seed": 1}):
        other = new_run(target, None, cfg=replace(config(), **change)).identity()
        assert ckpt.mismatch(base, other) == f"other settings ({next(iter(change))} " \
            f"{base['settings'][next(iter(change))]} there, {next(iter(change.values()))} now)"
    assert new_run(target, None, cfg=config(frame_every=3)).identity() == base  # frames do not change results

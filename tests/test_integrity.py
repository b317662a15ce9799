"""Checkpoints: a run resumes only its own checkpoint, malformed ones are refused before any work,
and a run killed within a stage resumes to the same result (and the same progression frames)."""

import itertools
import json
from dataclasses import replace

import pytest
import torch

from proxymat.optimize import checkpoint as ckpt
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


@pytest.mark.parametrize("calls,stage", [(5, "stage1"), (45, "stage2"), (50, "polish"), (56, "stage3")])
def test_a_run_killed_within_a_stage_resumes_to_the_uninterrupted_result(calls, stage, target, reference, tmp_path):
    """Checkpoints every other iteration; the kill lands between two, so frames after the last checkpoint
    exist and must be dropped; the resumed run then matches the uninterrupted one exactly."""
    run = new_run(target, tmp_path, checkpoint_every=0)
    every_other = itertools.cycle([True, False])
    run._checkpoint_due = lambda: next(every_other)
    run.loss = StopAfter(run.loss, calls)
    with pytest.raises(Stop):
        run.run()
    saved = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert saved["partial"]["stage"] == stage
    assert len(frames_of(tmp_path)) >= saved["frames"]

    logs: list[str] = []
    result = new_run(target, tmp_path, log=logs.append).run()
    assert any(f"within {stage} at step {saved['partial']['it']}" in line for line in logs)
    ref, ref_frames = reference
    assert result.graph.to_dict() == ref.graph.to_dict()
    assert result.loss_final == ref.loss_final
    assert [(r.name, r.curve, r.loss_end) for r in result.records] == [(r.name, r.curve, r.loss_end) for r in ref.records]
    assert frames_of(tmp_path) == ref_frames  # one run's frames, none of the killed run's twice


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

"""Checkpoints of an optimization run: what identifies a run, and the checked state file.

A run is identified by its inputs; a checkpoint resumes only the run it was made by.
The identity (:func:`run_identity`) holds

* ``graph``: SHA-256 of the starting graph's canonical JSON (and its name, for messages);
* ``res``: the working resolution;
* ``target``: a digest of the target's pixels, the file's name and its ``encoding``;
* ``settings``: every optimizer setting that changes results (JSON);
* ``proxies``: a digest of each proxy's weights.

The state file (``checkpoints/state.json``, written atomically) is::

    {"format": "proxymat-checkpoint", "version": 2, "identity": {...},
     "graph": {...}, "records": [...], "best": null | {"stage", "loss", "graph"},
     "frames": N, "rng": "<base64>", "partial": null | {"stage": NAME, ...}}

``partial`` is the state of an unfinished stage (saved at an interval within it);
tensors in it are ``{"tensor": {"dtype", "shape", "data": base64}}`` so that they
round-trip bit for bit. :func:`parse_state` checks the whole file before any work
starts; every problem is a :class:`CheckpointError` with a one-line message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

FORMAT = "proxymat-checkpoint"
VERSION = 2
STAGES = ("stage1", "counts", "sweep", "stage2", "polish", "stage3")
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "uint8": torch.uint8}


class CheckpointError(Exception):
    """A checkpoint belongs to another run or is malformed; the message says which and where."""


@dataclass(frozen=True)
class TargetId:
    """What identifies a run's target: a digest of its pixels, its file name and its encoding."""

    digest: str
    name: str = ""
    encoding: str = ""


def digest_bytes(*parts: bytes) -> str:
    """SHA-256 (hex, 32 characters) of the concatenated parts."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:32]


def digest_pixels(img: torch.Tensor) -> str:
    """Digest of a tensor's shape, dtype and values (as :func:`proxymat.target.pixel_digest`)."""
    from ..target import pixel_digest

    return pixel_digest(img)


def digest_json(data: Any) -> str:
    """Digest of a JSON value in canonical form (sorted keys, no spaces)."""
    return digest_bytes(canonical(data).encode())


def canonical(data: Any) -> str:
    """Canonical JSON text (sorted keys, compact, tuples as lists)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def digest_module(module: Any) -> str:
    """Digest of a proxy: its weights (state dict) when it has them, else its type name."""
    state = module.state_dict() if hasattr(module, "state_dict") else {}
    parts = [type(module).__name__.encode()]
    for key, t in sorted(state.items()):
        parts += [key.encode(), digest_pixels(t).encode()]
    return digest_bytes(*parts)


def run_identity(graph_json: Mapping[str, Any], settings: Mapping[str, Any], target: TargetId,
                 proxies: Mapping[str, Any]) -> dict[str, Any]:
    """The identity of a run (see the module docstring); ``settings`` must hold ``res``."""
    rest = json.loads(canonical({k: v for k, v in settings.items() if k != "res"}))
    return {"graph": {"digest": digest_json(graph_json), "name": str(graph_json.get("name", ""))},
            "target": {"digest": target.digest, "name": target.name, "encoding": target.encoding},
            "res": int(settings["res"]), "settings": rest,
            "proxies": {name: digest_module(p) for name, p in sorted(proxies.items())}}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def mismatch(saved: Any, now: Mapping[str, Any]) -> str | None:
    """What differs between a saved identity and the current one, in words; None when they agree."""
    if not isinstance(saved, dict):
        return "an unknown run (no identity)"
    sg, ng = saved.get("graph") or {}, now["graph"]
    if not isinstance(sg, dict) or sg.get("digest") != ng["digest"]:
        names = f" ({sg.get('name')!r} there, {ng['name']!r} now)" if isinstance(sg, dict) and sg.get("name") != ng["name"] else ""
        return f"another graph{names}"
    if saved.get("res") != now["res"]:  # first: a target's digest may depend on the resolution it was read at
        return f"another resolution ({saved.get('res')} there, {now['res']} now)"
    st, nt = saved.get("target") or {}, now["target"]
    if not isinstance(st, dict) or st.get("digest") != nt["digest"]:
        names = f" ({st.get('name')} there, {nt['name']} now)" if isinstance(st, dict) and st.get("name") != nt["name"] else ""
        return f"another target image{names}"
    if st.get("encoding") != nt["encoding"]:
        return f"another target encoding ({st.get('encoding')} there, {nt['encoding']} now)"
    was, new = _flat(saved.get("settings")), _flat(now["settings"])
    diff = sorted(k for k in set(was) | set(new) if was.get(k) != new.get(k))
    if diff:
        shown = ", ".join(f"{k} {was.get(k)} there, {new.get(k)} now" for k in diff[:3])
        return f"other settings ({shown}{', ...' if len(diff) > 3 else ''})"
    if saved.get("proxies") != now["proxies"]:
        return "other proxies"
    return None


# ------------------------------------------------------------------ tensors in JSON
def encode_tensor(t: torch.Tensor) -> dict[str, Any]:
    """A tensor as JSON that decodes to the same bits."""
    arr = t.detach().cpu().contiguous().numpy()  # (np.ascontiguousarray would make a 0-d tensor 1-d)
    return {"tensor": {"dtype": str(arr.dtype), "shape": list(t.shape), "data": base64.b64encode(arr.tobytes()).decode()}}


def decode_tensor(d: Any) -> torch.Tensor:
    """Inverse of :func:`encode_tensor`; ValueError when ``d`` is not an encoded tensor."""
    body = d.get("tensor") if isinstance(d, dict) else None
    if not isinstance(body, dict) or body.get("dtype") not in _DTYPES or not isinstance(body.get("shape"), list):
        raise ValueError("expected an encoded tensor")
    shape = body["shape"]
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError("bad tensor shape")
    raw = base64.b64decode(body["data"], validate=True)
    arr = np.frombuffer(raw, dtype=body["dtype"])
    if arr.size != math.prod(shape):
        raise ValueError("tensor data does not fit its shape")
    return torch.from_numpy(arr.reshape(tuple(shape)).copy())


def encode(data: Any) -> Any:
    """Nested dicts/lists with tensors -> JSON-ready data (tensors as :func:`encode_tensor`)."""
    if isinstance(data, torch.Tensor):
        return encode_tensor(data)
    if isinstance(data, dict):
        return {str(k): encode(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [encode(v) for v in data]
    return data


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(data, dict):
        if set(data) == {"tensor"}:
            return decode_tensor(data)
        return {k: decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(v) for v in data]
    return data


# ------------------------------------------------------------------ the state file
@dataclass
class State:
    """A checked checkpoint: the graph JSON, stage records (dicts), best, frames, RNG state, partial stage."""

    graph: dict[str, Any]
    records: list[dict[str, Any]]
    best: dict[str, Any] | None
    frames: int
    rng: torch.Tensor | None
    partial: dict[str, Any] | None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_record(r: Any) -> dict[str, Any]:
    if not isinstance(r, dict) or r.get("name") not in STAGES:
        raise ValueError("a stage record has no known stage name")
    if not (_number(r.get("loss_start")) and _number(r.get("loss_end")) and _number(r.get("seconds"))):
        raise ValueError(f"record {r['name']!r} lacks its losses or time")
    if not isinstance(r.get("curve"), list) or not all(_number(v) for v in r["curve"]) or not isinstance(r.get("note", ""), str):
        raise ValueError(f"record {r['name']!r} has a bad curve or note")
    return {k: r[k] for k in ("name", "loss_start", "loss_end", "curve", "seconds")} | {"note": r.get("note", "")}


def _check_partial(p: Any, done: set[str]) -> dict[str, Any] | None:
    if p is None:
        return None
    if not isinstance(p, dict) or p.get("stage") not in STAGES or p["stage"] in done:
        raise ValueError("the unfinished stage is unknown or already finished")
    if not isinstance(p.get("it"), int) or p["it"] < 0 or not _number(p.get("elapsed")):
        raise ValueError("the unfinished stage lacks its iteration or time")
    return decode(p)


def parse_state(data: Any, identity: Mapping[str, Any], where: str) -> State:
    """Check a loaded checkpoint against the run's ``identity``; :class:`CheckpointError` when it is
    another run's (saying what differs) or not a well-formed checkpoint (saying what is wrong)."""
    from ..graph import Graph, GraphError

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a proxymat checkpoint")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{where} is a checkpoint of another proxymat version ({data.get('version')})")
    what = mismatch(data.get("identity"), identity)
    if what is not None:
        raise CheckpointError(f"{where} was made by a run with {what}")
    try:
        graph = data["graph"]
        Graph.from_dict(graph)
        records = [_check_record(r) for r in data["records"]]
        best = data["best"]
        if best is not None:
            if not isinstance(best, dict) or not isinstance(best.get("stage"), str) or not _number(best.get("loss")):
                raise ValueError("'best' lacks its stage or loss")
            Graph.from_dict(best.get("graph"))
        frames = data["frames"]
        if not isinstance(frames, int) or frames < 0:
            raise ValueError("'frames' is not a count")
        rng = None if data["rng"] is None else torch.frombuffer(bytearray(base64.b64decode(data["rng"], validate=True)), dtype=torch.uint8)
        partial = _check_partial(data["partial"], {r["name"] for r in records})
    except (KeyError, TypeError, ValueError, AttributeError, GraphError, binascii.Error) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, KeyError):
            detail = f"missing {err.args[0]!r}"
        raise CheckpointError(f"{where} is malformed ({detail[:200]})") from None
    return State(graph, records, best, frames, rng, partial)


def state_json(identity: Mapping[str, Any], graph: Mapping[str, Any], records: list[dict[str, Any]],
               best: Mapping[str, Any] | None, frames: int, rng: torch.Tensor | None,
               partial: Mapping[str, Any] | None) -> str:
    """The text of a checkpoint file (see the module docstring)."""
    data = {"format": FORMAT, "version": VERSION, "identity": identity, "graph": graph, "records": records,
            "best": best, "frames": frames,
            "rng": None if rng is None else base64.b64encode(rng.numpy().tobytes()).decode(),
            "partial": None if partial is None else encode(partial)}
    return json.dumps(data) + "\n"


def _fits(values: Any, want: Mapping[str, torch.Tensor], rows: bool = False) -> bool:
    """``values`` is a dict of tensors whose keys are among ``want``'s, each of its shape (``rows``: a
    batch of rows of its size)."""
    return isinstance(values, dict) and all(
        k in want and isinstance(v, torch.Tensor)
        and (v.ndim == 2 and v.shape[1] == want[k].numel() if rows else tuple(v.shape) == tuple(want[k].shape))
        for k, v in values.items())


def _search_fits(s: Any, graph: Any) -> bool:
    """A Stage II search state (candidates, finished batches) fits ``graph``."""
    filters = graph.normalized("filters", optimizable_only=True)
    cands = s["candidates"]
    return (_fits(cands, graph.normalized("generators"), rows=True) and len({v.shape[0] for v in cands.values()}) == 1
            and isinstance(s["done"], list)
            and all(isinstance(d, dict) and isinstance(d["losses"], torch.Tensor) and d["losses"].ndim == 1
                    and ("fits" not in d or _fits(d["fits"], filters, rows=True)) for d in s["done"]))


def _sweep_fits(p: Mapping[str, Any]) -> bool:
    """A sweep state (see :class:`.sweep.Progress`) is well formed and its filters fit its starting graph."""
    from ..graph import Graph
    from .sweep import rng_state

    before = Graph.from_dict(p["before"])
    rng_state(p["rng"])
    counts = (p["round"], p["trial"], p["it"])
    winner = p["winner"]
    return (_fits(p["best_filters"], before.normalized("filters", optimizable_only=True))
            and all(isinstance(n, int) and n >= 0 for n in counts) and _number(p["start"]) and _number(p["best_loss"])
            and (winner is None or (isinstance(winner, int) and 0 <= winner < p["trial"]))
            and isinstance(p["changes"], list) and all(isinstance(c, str) for c in p["changes"]))


def check_partial(state: State, where: str) -> None:
    """Raise :class:`CheckpointError` unless the unfinished stage's saved values fit the saved graph
    (the filter, and in Stage II generator, values of an Adam loop; the polish's parameter vector;
    the sweep's filters, counts and RNG state; the search's candidates and finished batches)."""
    from ..graph import Graph, GraphError

    p = state.partial
    if p is None:
        return
    graph = Graph.from_dict(state.graph)
    try:
        if p["stage"] == "sweep":
            ok = _sweep_fits(p)
        elif p["stage"] == "stage2" and "search" in p:
            ok = _search_fits(p["search"], graph)
        elif p["stage"] == "counts":
            ok = (isinstance(p["it"], int) and p["it"] >= 0 and _number(p["start"]) and isinstance(p["changes"], list)
                  and all(isinstance(c, str) for c in p["changes"]))
        elif p["stage"] == "polish":
            ok = tuple(p["x"].shape) == (graph.space().layout().dim,) and isinstance(p["rng"], dict) and all(
                _number(p[k]) for k in ("radius", "best_loss", "accepted"))
        elif p["stage"] in ("stage1", "stage2", "stage3"):
            want = graph.normalized("filters", optimizable_only=True)
            if p["stage"] == "stage2":
                want |= graph.normalized("generators")
            shapes = {k: tuple(v.shape) for k, v in want.items()}
            ok = (all({k: tuple(v.shape) for k, v in p[name].items()} == shapes for name in ("params", "best"))
                  and (p["stage"] != "stage2" or isinstance(p["note"], str)) and _number(p["best_loss"])
                  and all(int(i) < len(want) and all(isinstance(t, torch.Tensor) for t in st.values())
                          for i, st in p["opt"].items()))
        else:
            ok = False
        ok = ok and ("search" in p or all(_number(v) for v in p["curve"]))
    except (KeyError, TypeError, ValueError, AttributeError, GraphError):
        ok = False
    if not ok:
        raise CheckpointError(f"{where} is malformed (the saved state of {p['stage']} does not fit its graph)")


def drop_frames(folder: Path, keep: int) -> int:
    """Remove the progression frames ``folder/NNNNN.png`` numbered ``keep`` and above; how many went."""
    if not folder.is_dir():
        return 0
    stale = [f for f in folder.glob("*.png") if not f.stem.isdigit() or int(f.stem) >= keep]
    for f in stale:
        f.unlink()
    return len(stale)

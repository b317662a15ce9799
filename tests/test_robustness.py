"""Hostile inputs through the command line: every expected failure is one line on
stderr (``proxymat: error: ...``), exit status 2, no traceback, nothing half written."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat.cli import main
from proxymat.graph import Graph
from proxymat.io import encode_png, prepare_target, read_image, write_png
from proxymat.proxy.weights import ProxyWeightsError, load_proxy

# One torch thread: on a busy 2-core machine two OpenMP threads thrash (10x slower).
OPT_FAST = ["--res", "64", "--iters", "1", "1", "1", "--samples", "2", "--polish", "8", "--sweep", "1", "--quiet", "--threads", "1"]
LEATHER = json.loads((Path(__file__).parents[1] / "src/proxymat/examples/leather.json").read_text())


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``proxymat ARGV`` (argparse's SystemExit included).

    ``--threads`` changes torch's global thread count; it is restored afterwards.
    """
    threads = torch.get_num_threads()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    finally:
        torch.set_num_threads(threads)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("proxymat: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def leather_with(**changes) -> dict:
    doc = json.loads(json.dumps(LEATHER))
    for path, value in changes.items():
        *keys, last = path.split("__")
        node = doc
        for k in keys:
            node = node[k]
        node[last] = value
    return doc


# ------------------------------------------------------------------ graph files
def _graph_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """{case: (graph path, expected message part)}."""
    cases: dict[str, tuple[Path, str]] = {}

    def put(name: str, content: str | bytes, message: str) -> None:
        p = tmp / f"{name}.json"
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        cases[name] = (p, message)

    cyc = leather_with(nodes__grain={"type": "levels", "inputs": {"input": "soften"}})
    put("cycle", json.dumps(cyc), "cycle")
    put("unknown_node", json.dumps(leather_with(nodes__grain__type="voronoi_magic")), "unknown node type 'voronoi_magic'")
    put("wrong_param_type", json.dumps(leather_with(nodes__grain__params__scale="ten")), "expected an integer")
    put("wrong_param_list", json.dumps(leather_with(nodes__soften__params__radius=[0.1])), "expected a number")
    put("nan", json.dumps(LEATHER).replace('"disorder": 0.8', '"disorder": NaN'), "NaN")
    put("infinity", json.dumps(LEATHER).replace('"disorder": 0.8', '"disorder": -Infinity'), "Infinity")
    put("huge_res", json.dumps(leather_with(res=10**12)), "'res' must be an integer")
    put("huge_seed", json.dumps(leather_with(seed=10**30)), "'seed' must be an integer")
    put("huge_node_seed", json.dumps(leather_with(nodes__grain__seed=2**63)), "seed must be an integer")
    put("huge_float", json.dumps(leather_with(nodes__soften__params__radius=10**400)), "too large")
    put("long_int", json.dumps(LEATHER).replace('"res": 256', '"res": 1' + "0" * 5000), "invalid JSON")
    put("deep_lists", "[" * 100_000 + "]" * 100_000, "nested too deeply")
    put("deep_objects", '{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply")
    put("binary", bytes(range(256)) * 4, "cannot read graph file")
    put("control_chars", "\x00\x01\x02 not json \x7f", "invalid JSON")
    put("empty", b"", "invalid JSON")
    put("bom_only", b"\xef\xbb\xbf", "invalid JSON")
    put("not_object", "[1, 2, 3]", "must contain a JSON object")
    (tmp / "a_directory.json").mkdir()
    cases["directory"] = (tmp / "a_directory.json", "cannot read graph file")
    return cases


GRAPH_CASES = ["cycle", "unknown_node", "wrong_param_type", "wrong_param_list", "nan", "infinity", "huge_res", "huge_seed",
               "huge_node_seed", "huge_float", "long_int", "deep_lists", "deep_objects", "binary", "control_chars", "empty",
               "bom_only", "not_object", "directory"]


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_bad_graph_file_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    path, message = _graph_cases(tmp_path)[case]
    out = tmp_path / "out"
    code, _, err = run_cli(["render", path, "-o", out, "--res", "16"], capsys)
    assert_one_line_error(code, err, message)
    assert not out.exists()


def test_graph_file_with_byte_order_mark_loads(tmp_path, capsys):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(LEATHER).encode())
    assert Graph.load(path).to_dict() == Graph.from_dict(LEATHER).to_dict()


def test_graph_given_as_a_plain_directory(tmp_path, capsys):
    code, _, err = run_cli(["render", tmp_path, "-o", tmp_path / "out", "--res", "16"], capsys)
    assert_one_line_error(code, err, "cannot read graph file", "directory")
    assert not (tmp_path / "out").exists()


def test_huge_seed_would_have_failed_at_render_time():
    """Why seeds are bounded: the generators hash seeds as int64, which 10**30 overflows."""
    from proxymat.nodes.generators import get_generator

    cells = get_generator("cells")
    params = {p.name: torch.tensor([p.to_numbers(p.default)[0]]) for p in cells.params}
    with pytest.raises((RuntimeError, ValueError, OverflowError)):
        cells(params, 8, 10**30)
    assert cells(params, 8, 2**31 - 1).shape == (1, 1, 8, 8)


@pytest.mark.parametrize("res", ["100000", "0", "-64", "abc"])
def test_render_res_out_of_range_is_a_usage_error(res, tmp_path, capsys):
    code, _, err = run_cli(["render", "leather", "-o", tmp_path / "out", "--res", res], capsys)
    assert code == 2 and "Traceback" not in err
    assert "resolution" in err or "invalid" in err
    assert not (tmp_path / "out").exists()


def test_render_to_a_path_under_a_regular_file(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("keep me")
    code, _, err = run_cli(["render", "leather", "-o", blocker / "out", "--res", "16"], capsys)
    assert_one_line_error(code, err, str(blocker))
    assert blocker.read_text() == "keep me"


# -------------------------------------------------------------- target images
def _ramp(h: int, w: int, c: int = 3) -> torch.Tensor:
    """A distinctive image: horizontal and vertical ramps plus a channel offset."""
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    x = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    chans = [(0.6 * x + 0.4 * y + 0.1 * k) % 1.0 for k in range(c)]
    return torch.stack(chans)[None]


def _write_target(kind: str, path: Path) -> Path:
    if kind == "rgb16":
        write_png(path, _ramp(80, 80), bits=16)
    elif kind == "gray8":
        write_png(path, _ramp(72, 72, 1), bits=8)
    elif kind == "gray16":
        write_png(path, _ramp(72, 72, 1), bits=16)
    elif kind == "rgba8":
        img = torch.cat([_ramp(64, 64), torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 1, 64, 64)], dim=1)
        write_png(path, img, bits=8)
    elif kind == "nonsquare":  # 40 wide, 70 high
        write_png(path, _ramp(70, 40), bits=8)
    elif kind == "palette":
        arr = (_ramp(48, 48)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(arr).convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(path)
        assert Image.open(path).mode == "P"
    elif kind == "tiny":
        write_png(path, _ramp(4, 4), bits=8)
    elif kind == "truncated":
        path.write_bytes(encode_png(np.full((64, 64, 3), 100, np.uint8), level=0)[:3000])
    elif kind == "bad_crc":
        data = bytearray(encode_png((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)))
        data[60] ^= 0xFF  # inside the IDAT chunk
        path.write_bytes(bytes(data))
    elif kind == "garbage_png":
        path.write_bytes(os.urandom(2048))
    elif kind == "header_only":
        path.write_bytes(b"\x89PNG\r\n\x1a\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    elif kind != "missing":
        raise ValueError(kind)
    return path


GOOD_TARGETS = ["rgb16", "gray8", "gray16", "rgba8", "nonsquare", "palette"]


@pytest.mark.parametrize("kind", GOOD_TARGETS)
def test_target_formats_read_as_rgb(kind, tmp_path):
    """Every accepted target decodes to values matching what was written, then to (1,3,64,64)."""
    path = _write_target(kind, tmp_path / f"{kind}.png")
    img = read_image(path)
    h, w = (70, 40) if kind == "nonsquare" else Image.open(path).size[::-1]
    assert img.shape[-2:] == (h, w) and img.shape[1] in (1, 3)
    if kind != "palette":  # palette quantizes colours
        c = img.shape[1]
        tol = 1 / 65535 if kind.endswith("16") else 0.5 / 255 + 1e-6
        assert torch.allclose(img, _ramp(h, w, c), atol=tol)
    prepared = prepare_target(img, 64)
    assert prepared.shape == (1, 3, 64, 64) and float(prepared.min()) >= 0 and float(prepared.max()) <= 1
    if kind == "nonsquare":  # centre crop: rows 15..54 of the 70
        assert torch.allclose(prepared, prepare_target(img[..., 15:55, :], 64))


@pytest.mark.parametrize("kind", GOOD_TARGETS)
def test_optimize_accepts_target_format(kind, tmp_path, capsys):
    target = _write_target(kind, tmp_path / f"{kind}.png")
    out = tmp_path / "out"
    code, stdout, err = run_cli(["optimize", "leather", "--target", target, "-o", out, *OPT_FAST], capsys)
    assert code == 0, err
    assert "Traceback" not in err and "report:" in stdout
    Graph.load(out / "graph.json")
    written = read_image(out / "target.png")
    expect = prepare_target(read_image(target), 64)
    assert torch.allclose(written, expect, atol=0.5 / 255 + 1e-6)


BAD_TARGETS = {
    "tiny": "too small",
    "truncated": "cannot read image",
    "bad_crc": "cannot read image",
    "garbage_png": "cannot read image",
    "header_only": "cannot read image",
    "empty": "empty",
    "directory": "not a file",
    "missing": "image not found",
}


@pytest.mark.parametrize("kind", list(BAD_TARGETS))
def test_optimize_rejects_bad_target(kind, tmp_path, capsys):
    target = _write_target(kind, tmp_path / f"{kind}.png")
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "--target", target, "-o", out, *OPT_FAST], capsys)
    assert_one_line_error(code, err, BAD_TARGETS[kind])
    assert not out.exists()


def test_optimize_to_a_path_under_a_regular_file(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("keep me")
    code, _, err = run_cli(["optimize", "leather", "-o", blocker / "out", *OPT_FAST], capsys)
    assert_one_line_error(code, err, "cannot write to output folder")
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize("extra,message", [
    (["--proxy", "cells="], "GENERATOR or GENERATOR=FILE"),
    (["--proxy", "cells=MISSING"], "proxy weights not found"),
    (["--no-proxy", "bricks"], "--no-proxy names generator(s) ['bricks'] that the graph does not use"),
    (["--no-proxy", "cells", "--proxy", "cells=MISSING"], "given to both --proxy and --no-proxy"),
    (["--features", "MISSING"], "not found"),
    (["--features", "GARBAGE"], "cannot read"),
])
def test_optimize_bad_options_write_nothing(extra, message, tmp_path, capsys):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(512))
    extra = [a.replace("MISSING", str(tmp_path / "missing.pth")).replace("GARBAGE", str(garbage)) for a in extra]
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "-o", out, *OPT_FAST, *extra], capsys)
    assert_one_line_error(code, err, message)
    assert not out.exists()


def test_optimize_threads_must_be_positive(tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--threads", "-1"], capsys)
    assert code == 2 and "Traceback" not in err and "positive integer" in err
    assert not (tmp_path / "out").exists()


def test_optimize_local_fraction_must_be_a_fraction(tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--local-fraction", "1.5"], capsys)
    assert code == 2 and "Traceback" not in err and "number in [0, 1]" in err
    assert not (tmp_path / "out").exists()


def test_optimize_rescore_must_not_be_negative(tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--rescore", "-1"], capsys)
    assert code == 2 and "Traceback" not in err and "integer >= 0" in err
    assert not (tmp_path / "out").exists()


def test_optimize_polish_must_not_be_negative(tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--polish", "-3"], capsys)
    assert code == 2 and "Traceback" not in err and "integer >= 0" in err
    assert not (tmp_path / "out").exists()


def test_optimize_sweep_must_not_be_negative(tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--sweep", "-1"], capsys)
    assert code == 2 and "Traceback" not in err and "integer >= 0" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--search-refit", "--search-refit-iters"])
def test_optimize_search_refit_must_not_be_negative(flag, tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, flag, "-2"], capsys)
    assert code == 2 and "Traceback" not in err and "integer >= 0" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["0.5", "nan", "inf", "big"])
def test_optimize_polish_grow_must_be_a_finite_number_at_least_one(value, tmp_path, capsys):
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--polish-grow", value], capsys)
    assert code == 2 and "Traceback" not in err and "a number >= 1" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- weights
class _Payload:
    """Unpickling this creates the marker file (what a malicious .pth would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _valid_proxy_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A small, valid cells proxy; returns its tensors and metadata for tampering."""
    from safetensors import safe_open

    from proxymat.nodes.generators import get_generator
    from proxymat.proxy.model import ProxyConfig, build_proxy, proxy_inputs
    from proxymat.proxy.weights import save_proxy

    spec = get_generator("cells")
    save_proxy(path, build_proxy(ProxyConfig(n_params=len(proxy_inputs(spec)), res=16, w_dim=8, channels=(8, 8, 8))), spec)
    with safe_open(str(path), framework="pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata())


def _bad_weights(kind: str, tmp: Path) -> Path:
    from safetensors.torch import save_file

    path = tmp / f"{kind}.safetensors"
    if kind == "random_bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "no_metadata":
        save_file({"w": torch.zeros(3, 3)}, str(path))
    elif kind == "foreign_metadata":
        save_file({"w": torch.zeros(3, 3)}, str(path), metadata={"format": "pt", "author": "someone"})
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"w": torch.zeros(3)}))
    elif kind == "torch_save":
        torch.save({"w": torch.zeros(3)}, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind.startswith("meta_") or kind == "missing_tensor":
        tensors, meta = _valid_proxy_file(tmp / "valid.safetensors")
        changes = {"meta_params_ints": {"params": "[1, 2]"}, "meta_params_text": {"params": '"abc"'},
                   "meta_params_keys": {"params": '[{"name": "scale"}]'}, "meta_fixed_list": {"fixed": "[1]"},
                   "meta_fixed_text": {"fixed": '{"scale": "big"}'}, "meta_config_list": {"model_config": "[]"},
                   "meta_config_json": {"model_config": "{not json"}, "meta_metrics_nan": {"metrics": "NaN"},
                   "meta_other_generator": {"generator": "perlin_noise"}}
        if kind == "missing_tensor":
            tensors.pop(sorted(tensors)[0])
        else:
            meta.update(changes[kind])
        save_file(tensors, str(path), metadata=meta)
    elif kind != "missing":
        raise ValueError(kind)
    return path


BAD_WEIGHTS = {
    "missing": "not found",
    "random_bytes": "cannot read proxy weights",
    "empty": "cannot read proxy weights",
    "no_metadata": "not a proxymat proxy file",
    "foreign_metadata": "not a proxymat proxy file",
    "pickle": "cannot read proxy weights",
    "torch_save": "cannot read proxy weights",
    "meta_params_ints": "bad proxy metadata",
    "meta_params_text": "bad proxy metadata",
    "meta_params_keys": "bad proxy metadata",
    "meta_fixed_list": "bad proxy metadata",
    "meta_fixed_text": "bad proxy metadata",
    "meta_config_list": "bad proxy metadata",
    "meta_config_json": "bad proxy metadata",
    "meta_metrics_nan": "bad proxy metadata",
    "meta_other_generator": "not 'cells'",
    "missing_tensor": "do not fit",
}


@pytest.mark.parametrize("kind", list(BAD_WEIGHTS))
def test_proxy_eval_bad_weights_is_one_line(kind, tmp_path, capsys):
    weights = _bad_weights(kind, tmp_path)
    grid = tmp_path / "grid.png"
    code, _, err = run_cli(["proxy", "eval", "cells", "--weights", weights, "--n", "2", "--res", "16", "--grid", grid], capsys)
    assert_one_line_error(code, err, BAD_WEIGHTS[kind])
    assert not grid.exists()


def test_valid_tiny_proxy_still_loads(tmp_path):
    """The tampered files above differ from a loadable one only in what the test changed."""
    _valid_proxy_file(tmp_path / "valid.safetensors")
    proxy = load_proxy(tmp_path / "valid.safetensors")
    assert proxy.spec_name == "cells" and proxy.res == 16


def test_no_pickle_code_runs_when_loading_weights(tmp_path):
    # Control: the payload is live -- plain unpickling does create its marker.
    control = tmp_path / "control_marker"
    data = pickle.dumps({"state": _Payload(control)})
    pickle.loads(data)
    assert control.exists()

    marker = tmp_path / "marker"
    for name in ("x.safetensors", "x.pth"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps({"state": _Payload(marker)}))
        with pytest.raises(ProxyWeightsError):
            load_proxy(path)
        with pytest.raises(ProxyWeightsError):
            load_proxy(str(path))
    assert not marker.exists()


def test_pickle_weights_via_cli_and_optimize_run_no_code(tmp_path, capsys):
    marker = tmp_path / "marker"
    evil = tmp_path / "x.pth"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    code, _, err = run_cli(["proxy", "eval", "cells", "--weights", evil, "--n", "2"], capsys)
    assert_one_line_error(code, err, "cannot read proxy weights")
    code, _, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST, "--proxy", f"cells={evil}"], capsys)
    assert_one_line_error(code, err, "cannot read proxy weights")
    assert not marker.exists() and not (tmp_path / "out").exists()


# ----------------------------------------------------------------- kill + resume
def test_killed_optimize_resumes_from_checkpoint(tmp_path):
    """SIGKILL mid-run leaves a parseable checkpoint; rerunning resumes after the finished stage."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "proxymat.cli", "optimize", "leather", "-o", str(out), "--res", "64",
           "--iters", "30", "30", "30", "--samples", "2", "--quiet", "--threads", "1"]
    state = out / "checkpoints" / "state.json"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.exists(), f"no checkpoint (exit {proc.poll()}): {proc.stderr.read().decode() if proc.poll() is not None else ''}"
        finished_early = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not finished_early, "the run ended before it could be killed"
    saved = json.loads(state.read_text())
    done = [r["name"] for r in saved["records"]]
    assert done and set(done) <= {"stage1", "counts", "sweep", "stage2", "polish", "stage3"} and "stage3" not in done
    Graph.from_dict(saved["graph"])  # the checkpointed graph is valid
    assert not (out / "report.html").exists()
    assert not list(out.rglob("*.tmp"))

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert f"resuming from {state}: after {', '.join(done)}" in rerun.stdout
    assert "Stage I:" not in rerun.stdout  # stage 1 was not redone
    assert (out / "report.html").is_file()
    graph = Graph.load(out / "graph.json")
    assert set(graph.nodes) == set(LEATHER["nodes"])
    final = json.loads(state.read_text())
    assert [r["name"] for r in final["records"]] == ["stage1", "counts", "sweep", "stage2", "polish", "stage3"]
    assert final["records"][0] == saved["records"][0]  # the finished stage was kept as it was

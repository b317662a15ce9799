"""``proxymat optimize`` on reruns and odd data: a rerun resumes only its own run, bad inputs are one-line
errors before any work with no partial output, count flags reject negatives, targets say how they were read."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat.io import read_image, read_image_info, write_exr, write_png
from proxymat.proxy.weights import atomic_save_safetensors, read_safetensors, resolve_weights
from proxymat.target import read_target
from test_robustness import OPT_FAST, _ramp, assert_one_line_error, run_cli


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    """The output folder of one finished tiny run of the leather example on its bundled target."""
    out = tmp_path_factory.mktemp("done") / "out"
    from proxymat.cli import main

    threads = torch.get_num_threads()
    try:
        assert main([*map(str, ["optimize", "leather", "-o", out, *OPT_FAST])]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture
def rerun(done, tmp_path):
    """A copy of the finished run's folder, and a function running ``optimize`` into it."""
    out = tmp_path / "out"
    shutil.copytree(done, out)

    def go(*extra, capsys, fast=OPT_FAST):
        return run_cli(["optimize", "leather", "-o", out, *fast, *extra], capsys)

    return out, go


def test_a_rerun_of_the_same_run_resumes_it(rerun, capsys):
    out, go = rerun
    before = (out / "graph.json").read_text()
    code, stdout, err = go(capsys=capsys)
    assert code == 0, err
    assert "resuming from" in stdout and "Stage I:" not in stdout
    assert (out / "graph.json").read_text() == before


def _other_photo(tmp_path: Path) -> Path:
    return write_png(tmp_path / "other.png", _ramp(96, 96), bits=8)


@pytest.mark.parametrize("extra,what", [
    (["--target", "OTHER"], "another target image (leather.target.png there, other.png now)"),
    (["--target-encoding", "linear"], "another target encoding (srgb there, linear now)"),
    (["--seed", "3"], "other settings (seed 0 there, 3 now)"),
])
def test_a_rerun_with_another_target_encoding_or_setting_is_refused(extra, what, rerun, tmp_path, capsys):
    out, go = rerun
    before = snapshot(out)
    extra = [str(_other_photo(tmp_path)) if a == "OTHER" else a for a in extra]
    code, _, err = go(*extra, capsys=capsys)
    line = assert_one_line_error(code, err, what, "use --fresh to start over")
    assert line.startswith(f"proxymat: error: {out / 'checkpoints' / 'state.json'} was made by a run with")
    assert snapshot(out) == before


def test_a_rerun_with_another_resolution_is_refused(rerun, capsys):
    out, go = rerun
    before = snapshot(out)
    fast = ["--res", "128", *OPT_FAST[2:]]
    code, _, err = go(capsys=capsys, fast=fast)
    assert_one_line_error(code, err, "another resolution (64 there, 128 now)")
    assert snapshot(out) == before


def test_a_rerun_with_another_graph_is_refused_and_fresh_starts_over(rerun, tmp_path, capsys):
    out, go = rerun
    before = snapshot(out)
    doc = json.loads((Path(__file__).parents[1] / "src/proxymat/examples/leather.json").read_text())
    next(n for n in doc["nodes"].values() if n["type"] == "levels")["params"]["in_high"] = 0.7
    graph = tmp_path / "mine.json"
    graph.write_text(json.dumps(doc))
    argv = ["optimize", graph, "--target", Path(__file__).parents[1] / "src/proxymat/examples/leather.target.png",
            "-o", out, *OPT_FAST]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, "another graph")
    assert snapshot(out) == before
    code, stdout, err = run_cli([*argv, "--force"], capsys)
    assert code == 0, err
    assert "--fresh: removed the checkpoint" in stdout and "Stage I:" in stdout
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["identity"]["graph"]["name"] == doc["name"] and state["identity"]["target"]["name"] == "leather.target.png"


def test_a_malformed_checkpoint_is_refused_before_any_work(rerun, capsys):
    out, go = rerun
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    state["records"] = {"stage1": 3}
    (out / "checkpoints" / "state.json").write_text(json.dumps(state))
    before = snapshot(out)
    code, stdout, err = go(capsys=capsys)
    assert_one_line_error(code, err, "is malformed", "use --fresh")
    assert "optimizing" not in stdout and snapshot(out) == before


def test_an_exr_target_with_nan_is_refused_before_any_work(tmp_path, capsys):
    img = _ramp(64, 64).clone()
    img[0, 1, 10, 10] = float("nan")
    img[0, 0, 20, 30] = float("inf")
    target = write_exr(tmp_path / "t.exr", img)
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "--target", target, "-o", out, *OPT_FAST], capsys)
    assert_one_line_error(code, err, f"target image {target} has 2 pixel(s) that are NaN or infinite")
    assert not out.exists()


def test_a_proxy_file_with_nan_weights_is_refused_before_any_work(tmp_path, capsys):
    tensors, meta = read_safetensors(resolve_weights("cells"))
    name = sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    bad = tmp_path / "cells_nan.safetensors"
    atomic_save_safetensors(bad, tensors, meta)
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "-o", out, *OPT_FAST, "--proxy", f"cells={bad}"], capsys)
    assert_one_line_error(code, err, f"{bad}: weights hold NaN or infinite values (in {name})")
    assert not out.exists()


@pytest.mark.parametrize("flag", [["--iters", "-1", "5", "5"], ["--iters", "5", "5", "-2"], ["--seed", "-1"],
                                  ["--samples", "0"], ["--polish", "-8"]])
def test_negative_counts_are_usage_errors(flag, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "-o", out, *flag], capsys)
    assert code == 2 and "expected a" in err.strip().splitlines()[-1] and not out.exists()


# ---------------------------------------------------------------- how targets are read
def test_the_encoding_defaults_by_file_type_and_an_explicit_one_wins(tmp_path, capsys):
    exr = write_exr(tmp_path / "t.exr", _ramp(64, 64) * 0.5)
    png = write_png(tmp_path / "t.png", _ramp(64, 64), bits=16)
    for target, extra, said in [(exr, [], "encoding linear (a float format: linear values; --target-encoding srgb to override)"),
                                (png, [], "encoding srgb (an 8/16-bit format; --target-encoding linear to override)"),
                                (exr, ["--target-encoding", "srgb"], "encoding srgb (--target-encoding)")]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        code, stdout, err = run_cli(["optimize", "leather", "--target", target, "-o", out, *OPT_FAST, *extra], capsys)
        assert code == 0, err
        assert said in next(line for line in stdout.splitlines() if line.startswith(f"target {target}:"))
        state = json.loads((out / "checkpoints" / "state.json").read_text())
        assert state["identity"]["target"]["encoding"] == said.split()[1]


def test_a_strip_is_refused_and_a_crop_is_stated(tmp_path, capsys):
    strip = write_png(tmp_path / "strip.png", _ramp(10, 400), bits=8)
    out = tmp_path / "out"
    code, _, err = run_cli(["optimize", "leather", "--target", strip, "-o", out, *OPT_FAST], capsys)
    assert_one_line_error(code, err, f"target image {strip} is too small: 400x10 would be cropped to 10x10, "
                                     "under the 32 px minimum")
    assert not out.exists()
    wide = write_png(tmp_path / "wide.png", _ramp(60, 90), bits=8)
    code, stdout, err = run_cli(["optimize", "leather", "--target", wide, "-o", out, *OPT_FAST], capsys)
    assert code == 0, err
    assert f"target {wide}: 90x60, cropped 90x60 to the centre 60x60;" in stdout


def test_images_over_pillows_warning_bound_read_without_a_warning(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 pixels: Pillow would warn, 2000 is the limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).shape == (1, 3, 40, 40)
    Image.fromarray(np.full((50, 50, 3), 128, np.uint8)).save(tmp_path / "huge.png")
    from proxymat.io import ImageError

    with pytest.raises(ImageError, match="huge.png: above the limit of 0 megapixels"):
        read_image(tmp_path / "huge.png")


@pytest.mark.parametrize("kind", ["jpeg", "png8", "png16"])
def test_large_images_are_reduced_while_loading_to_about_the_same_target(kind, tmp_path, monkeypatch):
    monkeypatch.setattr("proxymat.io.LARGE_PIXELS", 10_000)  # stands for a photo of many megapixels
    y, x = np.mgrid[0:300, 0:450] / 450.0
    rgb = np.stack([x, y, (x + y) / 2], -1)
    path = tmp_path / ("big.jpg" if kind == "jpeg" else "big.png")
    if kind == "png16":
        write_png(path, torch.from_numpy(rgb).permute(2, 0, 1)[None].float(), bits=16)
    else:
        Image.fromarray((rgb * 255).round().astype(np.uint8)).save(path, quality=95)
    small, info = read_image_info(path, min_side=64)
    assert info[:2] == (450, 300) and info.reduced == 4 and small.shape[-2:] == (75, 112)
    full = read_target(path, 32)
    monkeypatch.setattr("proxymat.io.LARGE_PIXELS", 1 << 40)
    exact = read_target(path, 32)
    assert exact.info.reduced == 1 and full.info.reduced == 4
    assert float((full.image - exact.image).abs().max()) < (0.02 if kind == "jpeg" else 0.01)
    assert full.describe() == "450x300, reduced 4x while loading, cropped 450x300 to the centre 300x300"


@pytest.mark.parametrize("argv", [["proxy", "train", "cells", "--channels", "16", "-4"], ["proxy", "train", "cells", "--seed", "-1"],
                                  ["proxy", "train", "cells", "--res", "-5"], ["proxy", "eval", "cells", "--res", "0"],
                                  ["gallery", "cells", "-o", "OUT", "--seed", "-2"],
                                  ["bench", "examples", "--seeds", "0", "-1"]])
def test_other_commands_reject_negative_counts(argv, tmp_path, capsys):
    code, _, err = run_cli([str(tmp_path / "out") if a == "OUT" else a for a in argv], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and ("expected a" in last or "resolution must be" in last), err
    assert not (tmp_path / "out").exists()

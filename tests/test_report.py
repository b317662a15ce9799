"""The optimize report: scores, what the numbers mean, the run's record, the next step, readable
figures, no progress bars in logs, and the 3D preview (its page, and its pixels in headless Chromium)."""

import base64
import contextlib
import html
import io
import json
import os
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat.cli.main import main
from proxymat.metrics import SCORE_DOCS, fit_scores
from proxymat.plots import STAGE_COLORS, comparison, layout_labels, plot_curves
from proxymat.preview import map_textures, preview_page, write_preview
from proxymat.render import render
from proxymat.report import LOSS_DOC, export_command

from headless_browser import Browser, find_chromium

RUN_ARGS = ["optimize", "leather", "--res", "64", "--iters", "4", "4", "4", "--samples", "4", "--rescore", "2",
            "--polish", "4", "--sweep", "0", "--search-refit", "0", "--no-stage2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One small ``proxymat optimize`` run through the CLI, stderr captured (not a terminal)."""
    out = tmp_path_factory.mktemp("report") / "my run"
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main([*RUN_ARGS, "-o", str(out)])
    assert code == 0, err.getvalue()
    return out, err.getvalue(), std.getvalue()


def tensor(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]


def test_no_progress_bars_when_stderr_is_not_a_terminal(run_dir):
    _, err, std = run_dir
    assert "\r" not in err and "it/s" not in err and "%|" not in err
    assert err == ""
    assert "report:" in std


def test_summary_carries_the_scores_of_start_stage1_and_final(run_dir):
    out, _, _ = run_dir
    summary = json.loads((out / "summary.json").read_text())
    scores = summary["scores"]
    assert list(scores) == ["start", "stage1", "final"]
    assert scores["final"]["loss"] == pytest.approx(summary["loss_final"])
    assert scores["start"]["loss"] == pytest.approx(summary["stages"][0]["loss_start"])
    assert scores["stage1"]["loss"] == pytest.approx(summary["stages"][0]["loss_end"])
    # The final scores are those of the written render against the written target (8-bit PNGs: close, not equal).
    again = fit_scores(tensor(out / "render.png"), tensor(out / "target.png"))
    for key in ("patch_swd", "lab_distance"):
        assert scores["final"][key] == pytest.approx(again[key], rel=0.05, abs=0.05)
        assert scores["start"][key] > 0


def test_report_says_what_the_numbers_mean_and_records_the_run(run_dir):
    out, _, _ = run_dir
    page = (out / "report.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    text = re.sub(r"\s+", " ", html.unescape(page))
    for doc in (LOSS_DOC, *SCORE_DOCS.values()):
        assert re.sub(r"\s+", " ", doc) in text
    assert f"{summary['scores']['final']['patch_swd']:.2f}" in page
    assert f"{summary['scores']['final']['lab_distance']:.2f}" in page
    settings = summary["settings"]
    assert shlex.split(settings["command"]) == ["proxymat", *RUN_ARGS, "-o", str(out)]
    assert settings["target_encoding"] == "srgb"
    assert "scales [1.0, 0.5]" in settings["loss_description"]  # the scales used at 64 px, not the configured three
    assert re.search(r"\b(random|vgg19|filters) features", settings["loss_description"])
    for shown in (settings["command"], settings["loss_description"], summary["version"]):
        assert shown in text
    assert "<dt>target encoding</dt><dd><code>srgb</code>" in page
    refs = re.findall(r"(?:src|href)='([^']+)'", page)
    assert "preview.html" in refs and all((out / ref).is_file() for ref in refs)


def test_next_step_is_an_export_command_that_runs(run_dir):
    out, _, _ = run_dir
    summary = json.loads((out / "summary.json").read_text())
    cmd = summary["next_step"]
    assert cmd == export_command(out)
    assert cmd in html.unescape((out / "report.html").read_text())
    argv = shlex.split(cmd)  # the folder name has a space: the command quotes it
    assert argv[:2] == ["proxymat", "export"] and argv[2] == str(out / "graph.json") and argv[-1] == str(out / "export")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv[1:], "--res", "32", "--format"]) == 0
    assert (out / "export").is_dir() and any((out / "export").iterdir())


def test_layout_labels_never_overlap_and_wrap_at_the_width():
    rng = np.random.default_rng(0)
    sizes = [(int(w), int(h)) for w, h in zip(rng.integers(20, 200, 40), rng.integers(10, 30, 40))]
    spots = layout_labels(sizes, 400, gap=10)
    boxes = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(spots, sizes)]
    for i, a in enumerate(boxes):
        assert a[2] <= 400 or a[0] == 0
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert len({y for _, y in spots}) > 1  # it wrapped


def test_loss_curve_legend_has_every_stage_below_the_plot(tmp_path):
    curves = {"stage1": list(np.geomspace(1, 0.1, 50)), "counts": [0.1, 0.1], "sweep": [0.1], "stage2": [0.09, 0.08], "polish": [0.08] * 3,
              "stage3": list(np.geomspace(0.08, 0.05, 40))}
    img = np.asarray(Image.open(plot_curves(curves, tmp_path / "c.png", size=(360, 240))).convert("RGB"))
    assert img.shape[0] > 240  # the legend adds rows below the plot instead of writing over it
    legend = img[240:]
    for name, color in STAGE_COLORS.items():
        assert (np.abs(legend.astype(int) - color).sum(-1) == 0).sum() >= 100, name  # a 12x12 swatch at least


def test_comparison_labels_are_large_dark_and_images_enlarged(tmp_path):
    imgs = {"target": torch.rand(1, 3, 32, 32), "final": torch.rand(1, 3, 32, 32)}
    img = np.asarray(Image.open(comparison(imgs, tmp_path / "cmp.png", {"final": "loss 0.0123"})).convert("L"))
    assert img.shape[1] == 2 * 128 + 4  # 32 px renders shown at 128
    strip = img[128:]
    dark_rows = np.nonzero((strip < 80).any(axis=1))[0]
    assert dark_rows.size and dark_rows.max() - dark_rows.min() >= 24  # two lines of text, each > 10 px tall


def small_maps(res: int = 64) -> dict[str, torch.Tensor]:
    from proxymat.examples import resolve_graph

    with torch.no_grad():
        return {k: v[:1] for k, v in resolve_graph("leather").evaluate(res).items()}


def test_preview_page_is_self_contained():
    maps = small_maps(48)
    page = preview_page(maps, "t", target=torch.rand(1, 3, 48, 48))
    assert "default-src 'none'" in page  # the page may fetch nothing
    assert not re.search(r"https?://", page)
    assert all(src.startswith("data:") for src in re.findall(r"src=['\"]([^'\"]+)", page))
    data = json.loads(re.search(r'id="proxymat-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["settings"]["intensity"] == 3300.0 and data["settings"]["gamma"] == 2.2
    rm = Image.open(io.BytesIO(base64.b64decode(data["maps"]["rm"].split(",", 1)[1])))
    assert rm.size == (64, 64)  # 48 px maps become the nearest power of two for WebGL 1
    tex = map_textures(maps, max_px=1024)
    assert tex == data["maps"]
    with pytest.raises(ValueError, match=r"preview: missing map\(s\) \['normal'\]"):
        map_textures({k: v for k, v in maps.items() if k != "normal"})


BROWSER = find_chromium()
needs_browser = pytest.mark.skipif(BROWSER is None and os.environ.get("PROXYMAT_REQUIRE_BROWSER") != "1",
                                   reason="no Chromium (CI sets PROXYMAT_REQUIRE_BROWSER=1 and installs it)")


def _canvas(b: Browser) -> torch.Tensor:
    rect = b.evaluate("(() => { const r = document.getElementById('preview-canvas').getBoundingClientRect();"
                      " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()")
    png = b.screenshot(rect)
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]


@needs_browser
def test_preview_renders_in_headless_chromium_like_the_renderer(tmp_path):
    assert BROWSER is not None, "PROXYMAT_REQUIRE_BROWSER=1 but no chromium on PATH"
    maps = small_maps(64)
    page = write_preview(tmp_path / "preview.html", maps, "test", target=render(maps), canvas_px=64)
    with Browser(BROWSER, 800, 600) as b:
        b.open(page)
        b.wait_for("window.proxymatPreview.ready || window.proxymatPreview.error")
        assert b.evaluate("window.proxymatPreview.error") is None
        plane = _canvas(b)
        (tmp_path / "plane.png").write_bytes(b.screenshot())
        b.evaluate("window.proxymatPreview.set({shape: 'sphere'})")
        sphere = _canvas(b)
        b.evaluate("window.proxymatPreview.set({flash: false, lightYaw: 1.0, lightPitch: 0.5})")
        moved = _canvas(b)
        problems = b.console_lines(("error", "warning"))
    assert plane.shape == (1, 3, 64, 64)
    assert plane.var() > 1e-3  # not blank
    # Default view, light at the camera: the same pixels as proxymat.render (8-bit maps, GPU float maths).
    expected = render(maps)
    assert (plane - expected).abs().mean() < 0.01
    background = sphere[0, :, 0, 0]
    assert torch.allclose(sphere[0, :, -1, -1], background, atol=0.01)  # corners show the background
    covered = ((sphere[0] - background[:, None, None]).abs().amax(0) > 0.02).float().mean()
    assert 0.25 < covered < 0.75  # a sphere, not the plane filling the view
    assert (moved - sphere).abs().mean() > 0.01  # the light moved
    assert problems == []


def test_the_last_line_states_the_fields_scores_start_to_final(run_dir):
    out, _, std = run_dir
    scores = json.loads((out / "summary.json").read_text())["scores"]
    last = std.strip().splitlines()[-1]
    want = (f"patch SWD {scores['start']['patch_swd']:.1f} -> {scores['final']['patch_swd']:.1f}, "
            f"Lab distance {scores['start']['lab_distance']:.1f} -> {scores['final']['lab_distance']:.1f}")
    assert last.startswith("final loss ") and want in last

"""Photo preprocessing, the selection index (build, staleness), ranking, and `proxymat fit` end to end."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from proxymat.cli.main import main
from proxymat.descriptors import BLOCKS, Metric, distances
from proxymat.examples import example_graph_text
from proxymat.io import ImageError
from proxymat.optimize.config import OptimizeConfig
from proxymat.optimize.loss import LossConfig
from proxymat.preprocess import prepare_photo
from proxymat.select import familiar_limit, rank, select, short_config, short_fit_swd
from proxymat.select_index import (Entry, SelectIndexError, build_index, check_index, load_index, refresh_index,
                                   sample_graph, save_index)


# ------------------------------------------------------------------ preprocessing
def test_exif_rotation_is_applied_and_said(tmp_path):
    arr = np.zeros((64, 96, 3), np.uint8)
    arr[:, :48] = (255, 0, 0)  # stored: red left, blue right
    arr[:, 48:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(arr).save(tmp_path / "p.jpg", exif=exif, quality=95)
    photo = prepare_photo(tmp_path / "p.jpg", 64, min_side=32)
    assert "rotated by EXIF 90°" in photo.steps
    assert "cropped 64x96 to the centre 64x64" in photo.steps  # the size as displayed, after the rotation
    img = photo.image[0]
    assert img[0, :8].mean() > 0.8 and img[2, :8].mean() < 0.2  # red on top after the rotation
    assert img[2, -8:].mean() > 0.8 and img[0, -8:].mean() < 0.2  # blue at the bottom


def test_crop_resize_and_encoding_are_said(tmp_path):
    Image.fromarray(np.full((80, 128, 3), 128, np.uint8)).save(tmp_path / "wide.png")
    photo = prepare_photo(tmp_path / "wide.png", 64)
    assert photo.steps == ["read wide.png: 128x80 (8/16-bit)", "cropped 128x80 to the centre 80x80", "resized to 64x64",
                           "sRGB values: compared as they are"]
    assert photo.image.shape == (1, 3, 64, 64) and photo.encoding == "srgb"
    assert prepare_photo(tmp_path / "wide.png", 64, linear=True).encoding == "linear"


def test_tiny_and_non_image_photos_are_one_line_errors(tmp_path):
    Image.fromarray(np.zeros((50, 80, 3), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(ImageError, match=r"^target image .*tiny.png is too small: 80x50 would be cropped to 50x50, "
                                         r"under the 64 px minimum$"):
        prepare_photo(tmp_path / "tiny.png", 64)
    (tmp_path / "notes.txt").write_text("not a photo")
    with pytest.raises(ImageError, match=r"^cannot read image .*notes.txt: unsupported image format$"):
        prepare_photo(tmp_path / "notes.txt", 64)


# ------------------------------------------------------------------ the metric
def _groups(offsets, wide, n=200, noise=0.05, seed=0):
    """Descriptor groups (one per offset): an offset on the first spectrum dimension each, unit-variance
    noise on the first ``wide`` texture dimensions, ``noise`` on the others."""
    gen = torch.Generator().manual_seed(seed)
    first_texture, first_spectrum = BLOCKS["colour"], BLOCKS["colour"] + BLOCKS["texture"]
    out = []
    for off in offsets:
        g = torch.randn(n, sum(BLOCKS.values()), generator=gen) * noise
        g[:, first_spectrum] += off
        g[:, first_texture: first_texture + wide] = torch.randn(n, wide, generator=gen)
        out.append(g)
    return out


def test_metric_whitens_the_within_graph_covariance():
    groups = _groups([0.0, 1.0, 2.0], wide=8)
    metric = Metric.fit(groups, shrink=0.0)
    centred = torch.cat([metric(g) - metric(g).mean(0) for g in groups])
    cov = centred.T @ centred / (len(centred) - len(groups))
    torch.testing.assert_close(cov, torch.eye(cov.shape[0]), atol=2e-3, rtol=0)
    shrunk = Metric.fit(groups)  # the default shrinkage bounds the gain of a near-constant direction
    assert float(torch.linalg.eigvalsh(shrunk.whiten).max()) < 0.5 * float(torch.linalg.eigvalsh(metric.whiten).max())


def test_metric_plays_down_what_varies_within_a_graph():
    """Two graphs told apart by an offset on one dimension while 40 others vary widely inside each: plain
    standardized distances send queries to the graph with a sample near on the wide dimensions, the metric does not."""
    a, b = _groups([0.0, 0.5], wide=40, n=64, noise=0.0)
    query = b[:32].clone()  # held-out draws of graph b ...
    query[:, BLOCKS["colour"]: BLOCKS["colour"] + 40] = a[:32, BLOCKS["colour"]: BLOCKS["colour"] + 40] + 0.01
    fitted = Metric.fit([a, b[32:]])  # ... each next to a sample of graph a on the wide dimensions
    plain = Metric(fitted.mean, fitted.std, torch.eye(fitted.whiten.shape[0]))

    def share_nearest_b(metric: Metric) -> float:
        return float((distances(query, b[32:], metric).min(1).values < distances(query, a, metric).min(1).values).float().mean())

    assert share_nearest_b(fitted) == 1.0
    assert share_nearest_b(plain) == 0.0


# ------------------------------------------------------------------ a two-graph library
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lib")
    entries = []
    for name, category in (("bricks", "masonry"), ("fabric", "fabric")):
        data = json.loads(example_graph_text(name))
        data["res"] = 64
        if name == "bricks":
            data["free"] = {"bricks.bevel": [0.05, 0.2], "bricks.height_random": [0.0, 0.5]}
        (folder / f"{name}.json").write_text(json.dumps(data))
        entries.append(Entry(name, category, folder / f"{name}.json"))
    return entries


@pytest.fixture(scope="module")
def index(library):
    return build_index(library, samples=4, seed=0)


def test_samples_stay_within_the_free_ranges(library):
    keys, sizes, params, seeds, renders = sample_graph(library[0].load(), 4, seed=3, res=32)
    assert keys == ["bricks.bevel", "bricks.height_random"] and sizes == [1, 1]
    spec = library[0].load().param_specs()
    real = [[spec[k].denormalize(params[i, j: j + 1]) for j, k in enumerate(keys)] for i in range(4)]
    assert all(0.05 - 1e-6 <= b <= 0.2 + 1e-6 and 0.0 <= h <= 0.5 + 1e-6 for b, h in real)
    assert renders.shape == (4, 3, 32, 32) and seeds.unique().numel() == 1  # one seed per batch of 4


def test_index_round_trip_and_staleness(library, index, tmp_path):
    path = save_index(index, tmp_path / "idx.safetensors")
    loaded = load_index(path)
    assert check_index(loaded, library) == []
    torch.testing.assert_close(loaded.graphs["fabric"].descriptors, index.graphs["fabric"].descriptors,
                               rtol=1e-3, atol=1e-3)  # stored in float16
    torch.testing.assert_close(loaded.metric.whiten, index.metric.whiten)
    changed = tmp_path / "fabric.json"
    data = json.loads(library[1].path.read_text())
    data["description"] = "edited"
    changed.write_text(json.dumps(data))
    entries = [library[0], replace(library[1], path=changed), Entry("new", "x", library[0].path)]
    assert check_index(loaded, entries) == ["fabric", "new"]
    fresh = refresh_index(loaded, entries, ["fabric", "new"])
    assert check_index(fresh, entries) == [] and set(fresh.graphs) == {"bricks", "fabric", "new"}
    (tmp_path / "bad.safetensors").write_bytes(b"not an index")
    with pytest.raises(SelectIndexError, match=r"^cannot read selection index .*bad.safetensors"):
        load_index(tmp_path / "bad.safetensors")


def test_ranking_puts_the_graph_that_made_the_target_first(library, index):
    for truth in library:
        *_, renders = sample_graph(truth.load(), 2, seed=1234, res=64)  # held-out parameters and seed
        for img in renders:
            ranked = rank(img[None], index, library)
            assert ranked[0].name == truth.name, (truth.name, [(c.name, c.descriptor_score) for c in ranked])
            assert ranked[0].descriptor_score < ranked[1].descriptor_score


def test_short_fits_keep_the_descriptor_order(library, index):
    *_, renders = sample_graph(library[1].load(), 1, seed=99, res=64)
    config = short_config(64, 3)
    out = select(renders, index, library, shortlist=2, config=config, limit=math.inf)
    assert [c.name for c in out] == [c.name for c in rank(renders, index, library)] and out[0].name == "fabric"
    assert all(c.short_loss > 0 and c.render is not None and c.graph is not None for c in out)
    one = select(renders, index, library, shortlist=1, config=config, limit=math.inf)
    assert one[0].short_loss > 0 and one[1].short_loss != one[1].short_loss and one[1].render is None  # nan: not fitted


def test_familiar_limit_is_the_leave_one_out_quantile(library, index):
    groups = {e.name: index.metric(index.graphs[e.name].descriptors) for e in library}
    best = []
    for name, own in groups.items():
        for i in range(own.shape[0]):
            scores = []
            for other, pool in groups.items():
                d = torch.cdist(own[i: i + 1], pool)[0]
                if other == name:
                    d = torch.cat((d[:i], d[i + 1:]))
                scores.append(float(torch.sort(d).values[:3].mean()))
            best.append(min(scores))
    assert familiar_limit(index, library, quantile=1.0, stride=1) == pytest.approx(max(best), rel=1e-5)
    assert familiar_limit(index, library, quantile=0.0, stride=1) == pytest.approx(min(best), rel=1e-5)
    assert familiar_limit(index, library, quantile=0.5, stride=1) == pytest.approx(float(torch.tensor(best).quantile(0.5)), rel=1e-5)


def test_unfamiliar_photos_are_ranked_by_their_short_fits(library, index):
    *_, renders = sample_graph(library[1].load(), 1, seed=99, res=64)
    config = short_config(64, 3)
    said = []
    out = select(renders, index, library, shortlist=0, config=config, wide=2, limit=-1.0, log=said.append)
    assert all(c.short_loss > 0 and c.short_swd > 0 and c.render is not None for c in out)
    assert [c.short_swd for c in out] == sorted(c.short_swd for c in out)
    assert all(c.short_swd == pytest.approx(short_fit_swd(c.render, renders)) for c in out)
    assert said[0].startswith("the photo lies outside the library's samples") and "ranking the 2 nearest" in said[0]
    familiar = select(renders, index, library, shortlist=0, config=config, wide=2, limit=math.inf, log=said.append)
    assert [c.name for c in familiar] == [c.name for c in rank(renders, index, library)]
    assert all(c.render is None for c in familiar) and len(said) == 3  # no short fit, nothing more said
    never = select(renders, index, library, shortlist=0, config=config, wide=0, limit=-1.0)
    assert all(c.render is None for c in never)


# ------------------------------------------------------------------ the command
def test_fit_end_to_end_on_a_two_graph_library(library, index, tmp_path, monkeypatch):
    import proxymat.photo_fit as photo_fit
    import proxymat.select_index as select_index

    save_index(index, tmp_path / "idx.safetensors")
    monkeypatch.setattr(select_index, "library_entries", lambda: list(library))
    tiny = OptimizeConfig(res=64, iters1=2, iters2=2, iters3=2, samples=2, search_batch=2, rescore=1, polish=2,
                          sweep_iters=0, search_refit=0, loss=LossConfig(scales=(1.0, 0.5)))
    losses = []
    monkeypatch.setattr(photo_fit, "pipeline_config",
                        lambda quality, seed=0, res=None, loss="default": losses.append(loss) or tiny)
    monkeypatch.setattr(photo_fit, "FIT_QUALITY", {"fast": {"top_k": 2, "shortlist": 2, "short_iters": 2, "wide": 0}})
    *_, renders = sample_graph(library[0].load(), 1, seed=7, res=64)
    from proxymat.io import write_png

    write_png(tmp_path / "photo.png", renders)
    out = tmp_path / "out"
    assert main(["fit", str(tmp_path / "photo.png"), "-o", str(out), "--quality", "fast", "--quiet",
                 "--index", str(tmp_path / "idx.safetensors"), "--loss", "smooth_spectrum"]) == 0
    assert losses == ["smooth_spectrum"]  # --loss reaches the pipeline's settings
    rows = json.loads((out / "candidates.json").read_text())
    assert [r["name"] for r in rows][0] == "bricks" and rows[0]["winner"]
    assert all(r["final_loss"] is not None for r in rows)  # top-2 both fully fitted
    assert min(rows, key=lambda r: r["final_loss"])["winner"]
    page = (out / "report.html").read_text()
    assert "<h2>Candidates</h2>" in page and "candidates/fabric.png" in page
    assert json.loads((out / "graph.json").read_text())["name"] == "bricks"


def test_fit_bad_input_leaves_no_output(library, tmp_path, monkeypatch, capsys):
    import proxymat.select_index as select_index

    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "tiny.png")
    out = tmp_path / "out"
    assert main(["fit", str(tmp_path / "tiny.png"), "-o", str(out)]) == 2
    assert "under the 64 px minimum" in capsys.readouterr().err and not out.exists()
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": {"a": {"type": "nope"}}, "outputs": {}}')
    monkeypatch.setattr(select_index, "library_entries", lambda: [library[0], Entry("broken", "x", broken)])
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / "ok.png")
    assert main(["fit", str(tmp_path / "ok.png"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("proxymat: error: library graph 'broken' fails to load:") and "\n" not in err
    assert not out.exists()


def test_fit_presets_full_fit_one_graph_by_default_and_three_at_best():
    from proxymat.photo_fit import fit_plan

    assert fit_plan("default").top_k == 1 and fit_plan("best").top_k == 3 and fit_plan("fast").top_k == 1
    assert fit_plan("default", top_k=3, shortlist=None).top_k == 3  # an explicit --top-k wins, None keeps the preset
    assert fit_plan("fast", shortlist=5).shortlist == 5 and fit_plan("fast").shortlist == 1


def test_pipeline_config_takes_a_named_loss_variant():
    from proxymat.photo_fit import pipeline_config

    assert pipeline_config("fast").loss.profile_weight == 0.0
    cfg = pipeline_config("fast", res=128, loss="profile")
    assert cfg.loss.profile_weight > 0 and cfg.res == 128
    with pytest.raises(ValueError, match="unknown loss variant 'nope'"):
        pipeline_config("fast", loss="nope")


def test_short_fit_swd_scores_the_photo_at_the_renders_size():
    from proxymat.metrics import patch_swd

    g = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 128, 128, generator=g)
    small = torch.nn.functional.interpolate(photo, size=(64, 64), mode="area")
    assert short_fit_swd(small, photo) == pytest.approx(0.0, abs=1e-9)  # the same image once resized
    flat = small.mean(dim=(-2, -1), keepdim=True).expand_as(small).contiguous()
    mean3 = sum(patch_swd(flat, small, seed=s) for s in range(3)) / 3
    assert short_fit_swd(flat, photo) == pytest.approx(mean3) and mean3 > 1.0


def test_full_fits_of_an_unfamiliar_photo_compete_by_patch_swd(library, index, monkeypatch):
    import proxymat.photo_fit as photo_fit
    import proxymat.select as select_mod
    from proxymat.photo_fit import FitPlan, fit_photo

    tiny = OptimizeConfig(res=64, iters1=2, iters2=2, iters3=2, samples=2, search_batch=2, rescore=1, polish=2,
                          sweep_iters=0, search_refit=0, loss=LossConfig(scales=(1.0, 0.5)))
    *_, renders = sample_graph(library[1].load(), 1, seed=5, res=64)
    plan = FitPlan(top_k=2, shortlist=2, wide=2, short_iters=2)
    real_swd = photo_fit.short_fit_swd
    scores = iter([1.0, 2.0, 2.0, 1.0])  # full fits' patch SWD: first-fitted 1 then 2, then 2 then 1
    monkeypatch.setattr(photo_fit, "short_fit_swd", lambda render, target: next(scores))
    for limit, by in ((math.inf, "descriptor"), (-1.0, "patch_swd")):  # familiar, then unfamiliar
        monkeypatch.setattr(select_mod, "familiar_limit", lambda *a, limit=limit, **k: limit)
        fit = fit_photo(renders, library, index, tiny, plan, log=lambda s: None)
        fitted = fit.candidates[:2]
        assert all(c.ranked_by == by and c.final_loss == c.final_loss for c in fitted)
        if by == "descriptor":
            assert fit.winner is min(fitted, key=lambda c: c.final_loss)
        else:
            assert [c.final_swd for c in fitted] == [2.0, 1.0] and fit.winner is fitted[1]
    assert real_swd(renders, renders) == pytest.approx(0.0, abs=1e-9)

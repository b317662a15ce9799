"""E2 proxy-choice benchmark: rows, projections, references, fitting and file handling (tiny models at res 16)."""

import json
import shutil
from dataclasses import asdict

import pytest
import torch

from proxymat.benchmarks.proxy_choice import (
    FIGURE_COLUMNS, METHODS, REFERENCES, FitSettings, MissingBaselineError, Scoring, available_generators,
    SearchStarts, compare_methods, fit_code, load_baselines, make_data, run_proxy_choice, summarize,
)
from proxymat.cli import main
from proxymat.features import TextureFeatures
from proxymat.nodes.generators import get_generator
from proxymat.optimize.loss import LossConfig, MaterialLoss
from proxymat.benchmarks.baselines import AutoencoderConfig, AutoencoderProxy, GanLatentProxy, save_baseline
from proxymat.proxy.model import ProxyConfig, denormalize_params
from proxymat.proxy.weights import ProxyWeightsError, load_proxy

RES = 16


def tiny_baselines() -> tuple[AutoencoderProxy, GanLatentProxy]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        ae = AutoencoderProxy(AutoencoderConfig(res=RES, latent_channels=8, base=8, cmax=16))
        gan = GanLatentProxy(ProxyConfig(n_params=8, res=RES, w_dim=32, map_depth=2, channels=(16, 16, 16)))
    gan.compute_w_avg(256)
    return ae, gan


@pytest.fixture(scope="module")
def features():
    return TextureFeatures("random")


@pytest.fixture(scope="module")
def bench(features):
    torch.set_num_threads(1)
    spec = get_generator("cells")
    ae, gan = tiny_baselines()
    proxy = load_proxy("cells", spec=spec)  # res 64, resized to 16
    data = make_data(spec, RES, n_targets=2, pool=48)
    rows, images = compare_methods(data, proxy, ae, gan, Scoring(features), FitSettings(steps=20, search=1))
    return data, rows, images


def independent_loss(target, maps, features):
    """pixel L1 + MaterialLoss computed directly (grey maps repeated to RGB)."""
    material = MaterialLoss(target.expand(-1, 3, -1, -1), LossConfig(), features)
    return (maps - target).abs().flatten(1).mean(1) + material.per_image(maps.expand(-1, 3, -1, -1))


def test_rows_structure_and_method_names(bench):
    data, rows, images = bench
    assert [r["method"] for r in rows] == list(METHODS + REFERENCES) * 2
    assert [r["target"] for r in rows] == [0] * 5 + [1] * 5
    assert {(r["search"], r["search_seconds"] > 0) for r in rows} == {(1, True)}  # one shared search, timed once
    json.dumps(rows)  # serialisable
    for r in rows:
        assert r["generator"] == "cells" and r["res"] == RES and r["pool"] == 48 and r["steps"] == 20
        assert r["projected_loss"] >= 0 and r["seconds"] >= 0
        assert (r["fit_loss"] is None) == (r["method"] in REFERENCES)
    assert len(images) == 2 and set(FIGURE_COLUMNS) <= set(images[0])
    assert all(images[0][c].shape == (1, 1, RES, RES) for c in FIGURE_COLUMNS)


def test_pool_projections_are_the_nearest_pool_maps(bench, features):
    data, rows, images = bench
    for r in rows:
        if r["method"] not in ("autoencoder", "gan_latent", "pool_oracle"):
            continue
        t, j = r["target"], r["pool_index"]
        target = data.targets[t : t + 1]
        assert r["projected_loss"] == pytest.approx(float(independent_loss(target, data.pool[j : j + 1], features)), rel=1e-5)
        query = target if r["method"] == "pool_oracle" else images[t][f"{r['method']}_out"]
        to_pool = independent_loss(query, data.pool, features)
        assert float(to_pool[j]) == pytest.approx(float(to_pool.min()), rel=1e-5, abs=1e-7)
        if r["method"] != "pool_oracle":
            assert torch.equal(images[t][f"{r['method']}_proj"], data.pool[j : j + 1])
            assert r["fit_loss"] == pytest.approx(float(independent_loss(target, images[t][f"{r['method']}_out"], features)), rel=1e-5)
    oracle = [r["projected_loss"] for r in rows if r["method"] == "pool_oracle"]
    for method in ("autoencoder", "gan_latent"):
        assert all(r["projected_loss"] >= o - 1e-6 for r, o in zip((r for r in rows if r["method"] == method), oracle))


def test_ours_projection_is_the_generator_at_recovered_params(bench, features):
    data, rows, images = bench
    spec = data.spec
    for r in (r for r in rows if r["method"] == "ours"):
        p = torch.tensor([r["params"]])
        assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0
        expected = spec(denormalize_params(spec, p), RES, 0)
        assert torch.equal(images[r["target"]]["ours_proj"], expected)
        target = data.targets[r["target"] : r["target"] + 1]
        assert r["projected_loss"] == pytest.approx(float(independent_loss(target, expected, features)), rel=1e-5)
        assert r["param_error"] == pytest.approx(float((p - data.target_p[r["target"]]).abs().mean()), rel=1e-5)


def test_true_params_reference_is_zero(bench):
    _, rows, _ = bench
    truth = [r for r in rows if r["method"] == "true_params"]
    assert len(truth) == 2
    assert all(r["projected_loss"] < 1e-6 and r["projected_l1"] == 0.0 and r["param_error"] == 0.0 for r in truth)
    assert all(r["projected_loss"] > 1e-3 for r in rows if r["method"] == "pool_oracle")


def test_fitting_lowers_each_methods_own_loss(bench):
    _, rows, _ = bench
    for r in (r for r in rows if r["method"] in METHODS):
        assert r["fit_loss"] < r["init_loss"], r


def test_fit_code_respects_bounds_and_keeps_best():
    target = torch.tensor([[0.8, 0.2]])
    fit = fit_code(lambda c: c, torch.zeros(1, 2), lambda x: (x - target).square().sum(1), 200, 0.05, (0.0, 0.5))
    assert fit.init_loss == pytest.approx(0.68)
    assert torch.allclose(fit.code, torch.tensor([[0.5, 0.2]]), atol=1e-3)
    assert fit.loss == pytest.approx(0.09, abs=1e-3) and torch.equal(fit.image, fit.code)


def test_summary_table(bench):
    _, rows, _ = bench
    table = summarize(rows)
    for m in METHODS + REFERENCES:
        assert f"| cells | {m} |" in table
    assert table.count("**") == 2 and "| cells | true_params | - | 0.0000 |" in table


def test_missing_baselines_name_the_training_command(tmp_path, capsys):
    with pytest.raises(MissingBaselineError, match=r"bench/train_baselines\.py cells") as err:
        run_proxy_choice("cells", baselines_dir=tmp_path)
    assert "cells_autoencoder.safetensors" in str(err.value) and "\n" not in str(err.value)
    assert main(["bench", "e2", "--names", "cells", "--baselines-dir", str(tmp_path)]) == 2
    msg = capsys.readouterr().err
    assert msg.count("\n") == 1 and "bench/train_baselines.py cells" in msg


def test_end_to_end_with_saved_baselines(tmp_path):
    spec = get_generator("cells")
    ae, gan = tiny_baselines()
    save_baseline(tmp_path / "cells_autoencoder.safetensors", "autoencoder", ae, spec, asdict(ae.config), {})
    save_baseline(tmp_path / "cells_gan_latent.safetensors", "gan_latent", gan, spec, gan.net.config.to_dict(), {})
    assert available_generators(tmp_path) == ["cells"]
    rows = run_proxy_choice("cells", n_targets=1, steps=2, pool=8, res=RES, baselines_dir=tmp_path,
                            figures=tmp_path / "fig", search=2, features="random", progress=False)
    assert [r["method"] for r in rows] == list(METHODS + REFERENCES)
    from PIL import Image

    with Image.open(rows[0]["figure"]) as im:
        assert im.size == (len(FIGURE_COLUMNS) * (RES + 2) - 2, RES)
    shutil.copy(tmp_path / "cells_autoencoder.safetensors", tmp_path / "cells_gan_latent.safetensors")
    with pytest.raises(ProxyWeightsError, match="not a gan_latent baseline"):
        load_baselines("cells", tmp_path)


def test_pairwise_matches_material_loss(bench, features):
    data, _, images = bench
    queries = torch.cat([data.targets, images[0]["gan_latent_out"]])
    dist = Scoring(features).pairwise(queries, data.pool, chunk=20)
    assert dist.shape == (3, 48)
    for k in range(3):
        expected = independent_loss(queries[k : k + 1], data.pool, features)
        assert torch.allclose(dist[k], expected, rtol=1e-5, atol=1e-7)


def test_search_starts_pick_the_lowest_loss_candidate_per_target(bench, features):
    """Shared search maps scored with the pairwise loss pick what scoring each target on its own picks."""
    data, _, _ = bench
    proxy = load_proxy("cells", spec=data.spec)
    search = SearchStarts.make(proxy, data.spec, RES, 40, chunk=16)  # chunks must not change the maps' order
    assert search.maps.shape == (40, 1, RES, RES) and search.seconds > 0
    starts, share = search.best_for(data.targets, Scoring(features))
    for t in range(data.targets.shape[0]):
        target = data.targets[t : t + 1]
        own = independent_loss(target, search.maps, features)
        assert torch.equal(starts[t], search.p[int(own.argmin())])
    assert share >= 0.0
    again = SearchStarts.make(proxy, data.spec, RES, 40, chunk=64)
    assert torch.allclose(again.maps, search.maps, atol=1e-5) and torch.equal(again.p, search.p)

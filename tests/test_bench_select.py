"""The selection benchmark's rows and table (`proxymat bench select`) on a two-graph library."""

import math

import pytest

from test_select import index, library  # noqa: F401  (the two-graph library and its index)

from proxymat.benchmarks.selection import score_target, select_table
from proxymat.select import short_config
from proxymat.select_index import sample_graph


def test_rule_rows_follow_the_descriptor_when_familiar_and_the_fits_when_not(library, index):
    *_, renders = sample_graph(library[0].load(), 1, seed=4321, res=64)
    config = short_config(64, 3)
    familiar = score_target(renders, "bricks", index, library, 0, config, limit=math.inf, wide=2)
    assert familiar["unfamiliar"] is False
    assert familiar["rule_top1"] == familiar["descriptor_top1"] and familiar["chosen_by_rule"] == familiar["chosen_by_descriptor"]
    assert "fit_top1" not in familiar  # no shortlist fits asked for
    unfamiliar = score_target(renders, "bricks", index, library, 0, config, limit=-1.0, wide=2)
    assert unfamiliar["unfamiliar"] is True and unfamiliar["rule_top3"] is True  # 2 graphs: always in the first 3
    assert unfamiliar["chosen_by_rule"] in ("bricks", "fabric")
    table = select_table([familiar, unfamiliar])
    assert "| fit's rule (short fits when unfamiliar: 50 % (1/2)) |" in table
    assert "| descriptor only | " in table and "after short fits | not run | not run |" in table


def test_rows_without_a_limit_have_no_rule(library, index):
    *_, renders = sample_graph(library[1].load(), 1, seed=4321, res=64)
    row = score_target(renders, "fabric", index, library, 0)
    assert not any(k.startswith("rule") for k in row) and "unfamiliar" not in row
    assert "fit's rule (short fits when unfamiliar: not run) | not run | not run |" in select_table([row])


def test_real_panel_pairs_each_encoding_with_the_hand_fits_of_the_same_encoding(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import torch

    import proxymat.photo_fit as photo_fit
    from proxymat.benchmarks.selection import real_panel
    from proxymat.io import write_png

    photos, hand = tmp_path / "photos", tmp_path / "hand"
    photos.mkdir(), hand.mkdir()
    grey = torch.full((1, 3, 64, 64), 0.25)
    write_png(photos / "IMG_6966.png", grey)
    strip = torch.ones(1, 3, 40, 3 * 32 + 4 * 8)  # three panels on white, as E3's comparison strips
    for k, shade in enumerate((0.2, 0.4, 0.6)):
        strip[..., 2:34, 8 + k * 40: 40 + k * 40] = shade
    write_png(hand / "e3_real_IMG_6966_leather.png", strip)  # sRGB fits only: no *_lin figure
    seen = []

    def fake_fit(target, entries, index, config, plan, log=print):
        seen.append(float(target.mean()))
        winner = SimpleNamespace(name="leather_tufted", category="leather")
        result = SimpleNamespace(renders={"final": target.clone()}, loss_final=0.5)
        return SimpleNamespace(winner=winner, result=result, candidates=[winner])

    monkeypatch.setattr(photo_fit, "fit_photo", fake_fit)
    config, plan = SimpleNamespace(res=64), SimpleNamespace(shortlist=3)
    rows = real_panel(photos, [], None, config, plan, hand_figures=hand, names=["IMG_6966"])
    assert rows[0]["hand_paired"] == "leather" and "hand_patch_swd" in rows[0]
    assert seen[0] == pytest.approx(0.25, abs=0.01)  # sRGB: compared as stored
    rows = real_panel(photos, [], None, config, plan, hand_figures=hand, names=["IMG_6966"], linear=True)
    assert "hand_patch_swd" not in rows[0]  # no linear hand-paired figure here
    assert seen[1] == pytest.approx(0.25 ** (1 / 2.2), abs=0.01)  # linear values gamma-encoded like the renders

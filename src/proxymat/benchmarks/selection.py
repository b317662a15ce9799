"""``proxymat bench select``: how often graph selection finds the graph that made a target.

Targets are renders of library graphs at random held-out parameters (inside
``free``) and held-out graph seeds (:func:`held_out_targets`: draws with other
seeds than the index's). For each target :func:`score_target` records where
the true graph ranks by descriptor alone and after the short fits. A graph of
the same category as the truth counts as a hit when its short-fit loss is at
most the true graph's (a near duplicate that fits as well). :func:`real_panel`
fits the shared real photos and sets each fit beside the hand-paired fit of
E3 (``docs/figures/hand_paired/e3_real_*``) with the patch-SWD of both.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..select import (WIDE_SHORTLIST, Candidate, familiar_limit, rank, select, short_fit, start_graph,
                      unfamiliar)
from ..select_index import Entry, Index, sample_graph

HELD_OUT_SEED = 1_000_003
"""Offset of the targets' draws from the index's (whose graph ``i`` uses seed ``i``)."""

HAND_PAIRED = {"IMG_20180114_223844": "plaster", "IMG_20180115_135633": "scratched_metal", "IMG_6966": "leather",
               "IMG_20180115_135508": "stone", "IMG_20180105_114506": "stone"}
"""The shared photos and the example graph E3 fitted to each by hand (bench/e3_real.py)."""


def held_out_targets(entries: Sequence[Entry], per_graph: int, res: int = 128,
                     seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """``per_graph`` renders ``(1, 3, res, res)`` of every entry at held-out parameters and seeds."""
    out = []
    for i, e in enumerate(entries):
        *_, renders = sample_graph(e.load(), per_graph, HELD_OUT_SEED + seed * 7919 + i, res)
        out += [(e.name, renders[j: j + 1]) for j in range(per_graph)]
    return out


def _hit(ranked: Sequence[Candidate], truth: str, category: str, truth_loss: float | None, k: int) -> bool:
    for c in ranked[:k]:
        if c.name == truth:
            return True
        if (truth_loss is not None and c.category == category and c.category
                and c.short_loss == c.short_loss and c.short_loss <= truth_loss):
            return True
    return False


def score_target(target: torch.Tensor, truth: str, index: Index, entries: Sequence[Entry], shortlist: int,
                 config: Any = None, limit: float | None = None, wide: int = WIDE_SHORTLIST) -> dict[str, Any]:
    """One target's row: the true graph's descriptor rank, top-1/top-3 hits by descriptor, by ``fit``'s
    rule (:func:`~proxymat.select.select`: the descriptor, or short fits of the ``wide`` nearest when the
    target's score is above ``limit``; ``limit`` None: not scored) and after the short fits of the
    ``shortlist`` nearest (0: not run)."""
    by_name = {e.name: e for e in entries}
    ranked = rank(target, index, entries)
    d_rank = next(c.descriptor_rank for c in ranked if c.name == truth)
    row: dict[str, Any] = {"truth": truth, "descriptor_rank": d_rank, "descriptor_top1": ranked[0].name == truth,
                           "descriptor_top3": d_rank <= 3, "chosen_by_descriptor": ranked[0].name}
    if limit is not None:
        row["unfamiliar"] = unfamiliar(ranked, limit)
        order = select(target, index, entries, 0, config, wide=wide, limit=limit) if row["unfamiliar"] else ranked
        names = [c.name for c in order]
        row.update(rule_top1=names[0] == truth, rule_top3=truth in names[:3], chosen_by_rule=names[0])
    if shortlist <= 0:
        return row
    head = ranked[:shortlist]
    for c in head:
        c.short_loss, _, _ = short_fit(start_graph(by_name[c.name], index, c.sample), target, config)
    truth_c = next((c for c in head if c.name == truth), None)
    if truth_c is None:  # the truth's own short fit, for the near-duplicate rule
        c0 = next(c for c in ranked if c.name == truth)
        truth_loss, _, _ = short_fit(start_graph(by_name[truth], index, c0.sample), target, config)
    else:
        truth_loss = truth_c.short_loss
    head.sort(key=lambda c: c.short_loss)
    category = by_name[truth].category
    row.update(fit_top1=_hit(head, truth, category, truth_loss, 1), fit_top3=_hit(head, truth, category, truth_loss, 3),
               chosen=head[0].name, truth_short_loss=truth_loss)
    return row


def bench_select(entries: Sequence[Entry], index: Index, per_graph: int = 2, shortlist: int = 6, seed: int = 0,
                 config: Any = None, save: Callable[[list], None] = lambda rows: None,
                 log: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Rows of :func:`score_target` for every held-out target."""
    rows: list[dict[str, Any]] = []
    limit = familiar_limit(index, entries)
    for truth, target in held_out_targets(entries, per_graph, index.res, seed):
        rows.append(score_target(target, truth, index, entries, shortlist, config, limit))
        save(rows)
        log(f"{truth}: descriptor rank {rows[-1]['descriptor_rank']}" +
            (f", chosen after short fits: {rows[-1]['chosen']}" if "chosen" in rows[-1] else ""))
    return rows


def select_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: top-1 and top-3 accuracy by descriptor and after the short fits."""
    n = len(rows)

    def pct(key: str) -> str:
        have = [r[key] for r in rows if key in r]
        return f"{100 * sum(have) / len(have):.0f} % ({sum(have)}/{len(have)})" if have else "not run"

    misses = sorted({f"{r['truth']}->{r.get('chosen', r.get('chosen_by_rule', r['chosen_by_descriptor']))}" for r in rows
                     if not r.get("fit_top1", r.get("rule_top1", r["descriptor_top1"]))})
    return ("| ranking | top-1 | top-3 |\n|---|---|---|\n"
            f"| descriptor only | {pct('descriptor_top1')} | {pct('descriptor_top3')} |\n"
            f"| fit's rule (short fits when unfamiliar: {pct('unfamiliar')}) | {pct('rule_top1')} | {pct('rule_top3')} |\n"
            f"| after short fits | {pct('fit_top1')} | {pct('fit_top3')} |\n\n"
            f"{n} targets. Top-1 misses (truth->chosen): {', '.join(misses) or 'none'}")


def panel_from_figure(path: Path, index: int = 2) -> torch.Tensor | None:
    """Panel ``index`` (0 = target, 1 = init, 2 = full) of an E3 comparison strip, as (1, 3, h, h) in [0, 1];
    None when the file is missing. Panels are told apart by the white columns between them."""
    from ..io import read_image

    if not path.is_file():
        return None
    img = read_image(path)[:, :3]
    h = img.shape[-2]
    body = img[..., : int(h * 0.85), :]  # above the labels
    filled = (body < 0.98).any(dim=1).any(dim=1)[0]  # columns with any non-white pixel
    runs, start = [], None
    for x, f in enumerate(filled.tolist() + [False]):
        if f and start is None:
            start = x
        elif not f and start is not None:
            if x - start > 16:
                runs.append((start, x))
            start = None
    if index >= len(runs):
        return None
    x0, x1 = runs[index]
    rows = (body[0, :, :, x0:x1] < 0.98).any(dim=0).any(dim=1).nonzero().flatten()
    return img[..., int(rows[0]): int(rows[-1]) + 1, x0:x1].contiguous()


def _square(img: torch.Tensor, res: int) -> torch.Tensor:
    import torch.nn.functional as F

    h, w = img.shape[-2:]
    side = min(h, w)
    img = img[..., (h - side) // 2: (h - side) // 2 + side, (w - side) // 2: (w - side) // 2 + side]
    return F.interpolate(img, size=(res, res), mode="area") if side != res else img


def real_panel(photos: Path, entries: Sequence[Entry], index: Index, config: Any, plan: Any, *,
               figures: Path | None = None, hand_figures: Path = Path("docs/figures/hand_paired"), linear: bool = False,
               names: Sequence[str] | None = None, log: Callable[[str], None] = lambda s: None) -> list[dict[str, Any]]:
    """Fit each shared photo by selection (:func:`~proxymat.photo_fit.fit_photo`); rows with the chosen
    graph, its final loss and patch-SWD / Lab distance, and the patch-SWD of E3's hand-paired fit (the
    ``full`` panel of ``e3_real_<photo>_<graph>[_lin].png`` in ``hand_figures``; the default folder holds the
    default loss's fits, re-drawn whenever the default changes), both scored at that panel's size. With
    ``figures``, writes ``select_real_<photo>.png``: the photo, the hand-paired fit and ours side by side."""
    from ..metrics import fit_scores
    from ..optimize.loss import encode_like_render
    from ..photo_fit import fit_photo
    from ..plots import comparison
    from ..preprocess import prepare_photo

    rows = []
    for stem, hand in HAND_PAIRED.items():
        if names and stem not in names:
            continue
        photo = prepare_photo(photos / f"{stem}.png", config.res, linear=linear)
        target = encode_like_render(photo.image, photo.encoding)
        fit = fit_photo(target, entries, index, config, plan, log=log)
        ours = fit.result.renders["final"][:1].cpu()
        hand_img = panel_from_figure(hand_figures / f"e3_real_{stem}_{hand}{'_lin' if linear else ''}.png")
        res = hand_img.shape[-1] if hand_img is not None else config.res
        small_target, small_ours = _square(target, res), _square(ours, res)
        row = {"photo": stem, "chosen": fit.winner.name, "category": fit.winner.category,
               "final_loss": fit.result.loss_final, **fit_scores(small_ours, small_target), "hand_paired": hand,
               "candidates": [c.name for c in fit.candidates[: plan.shortlist]],
               "full_fits": {c.name: c.final_loss for c in fit.candidates
                             if not math.isnan(getattr(c, "final_loss", math.nan))}}
        if hand_img is not None:
            hand_img = _square(hand_img, res)
            row["hand_patch_swd"] = fit_scores(hand_img, small_target)["patch_swd"]
        rows.append(row)
        log(f"{stem}: chose {row['chosen']}, patch SWD {row['patch_swd']:.2f}"
            + (f" (hand-paired {hand}: {row['hand_patch_swd']:.2f})" if "hand_patch_swd" in row else ""))
        if figures is not None:
            shown = {"photo": small_target, f"hand-paired {hand}": hand_img if hand_img is not None else small_target * 0,
                     f"chosen {fit.winner.name}": small_ours}
            notes = {"photo": stem, f"hand-paired {hand}": f"SWD {row.get('hand_patch_swd', float('nan')):.2f}",
                     f"chosen {fit.winner.name}": f"SWD {row['patch_swd']:.2f}"}
            comparison(shown, Path(figures) / f"select_real_{stem}.png", notes)
    return rows


def real_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: each photo's chosen graph and patch-SWD against the hand-paired fit's."""
    lines = ["| photo | chosen graph | patch SWD | hand-paired graph | its patch SWD | Lab distance |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        hand = f"{r['hand_patch_swd']:.2f}" if "hand_patch_swd" in r else "no figure"
        lines.append(f"| {r['photo']} | {r['chosen']} ({r['category']}) | {r['patch_swd']:.2f} | {r['hand_paired']} | "
                     f"{hand} | {r['lab_distance']:.2f} |")
    below = sum(1 for r in rows if "hand_patch_swd" in r and r["patch_swd"] < r["hand_patch_swd"])
    return "\n".join(lines) + f"\n\nPatch SWD below the hand-paired fit's on {below} of {len(rows)} photos."

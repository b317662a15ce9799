"""How to rank short fits between library graphs: the material loss against patch SWD.

For every held-out library render (``bench select``'s targets: 2 per graph, seed 0) and every shared
photo, the 12 graphs nearest by descriptor get the short fit that ``proxymat fit`` runs
(:func:`proxymat.select.short_fit`); each fit is scored by its material loss and by its patch SWD to
the target (:func:`proxymat.select.short_fit_swd`). Prints how often each score ranks the truth's
graph (or one of its category) first and in the first three, and which graph each photo gets.
Rows: ``docs/select_scoring_renders.json`` (renders) and ``docs/select_scoring_photos.json``.

    .venv/bin/python tools/select_scoring_study.py --photos ../shared/targets/real

About 20 CPU-minutes on one thread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

# the kinds a person would accept for each shared photo
PHOTO_KINDS = {
    "IMG_20180114_223844": {"plaster_stucco", "concrete"},
    "IMG_6966": {"leather_tufted"},
    "IMG_20180105_114506": {"marble_dark", "speckled_stone", "granite", "rock"},
    "IMG_20180115_135508": {"speckled_stone", "granite"},
    "IMG_20180115_135633": {"scratched_steel", "brushed_metal"},
}


def fit_nearest(target: torch.Tensor, index, entries, by_name) -> list[dict]:  # noqa: ANN001
    from proxymat.select import WIDE_SHORTLIST, rank, short_fit, short_fit_swd, start_graph

    rows = []
    for c in rank(target, index, entries)[:WIDE_SHORTLIST]:
        loss, _, render = short_fit(start_graph(by_name[c.name], index, c.sample), target)
        rows.append({"name": c.name, "category": c.category, "descriptor_rank": c.descriptor_rank,
                     "loss": loss, "swd": short_fit_swd(render, target)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/targets/real"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    from proxymat.benchmarks.selection import held_out_targets
    from proxymat.optimize.loss import encode_like_render
    from proxymat.photo_fit import fit_plan, load_entries, open_index
    from proxymat.preprocess import prepare_photo
    from proxymat.select_index import default_index_path, library_entries

    entries = library_entries()
    load_entries(entries)
    index = open_index(entries, default_index_path(), fit_plan("fast"), print)
    by_name = {e.name: e for e in entries}
    renders = [{"truth": truth, "category": by_name[truth].category, "cands": fit_nearest(t, index, entries, by_name)}
               for truth, t in held_out_targets(entries, 2, seed=0)]
    (args.out / "select_scoring_renders.json").write_text(json.dumps(renders) + "\n")
    photos = []
    for stem in PHOTO_KINDS:
        photo = prepare_photo(args.photos / f"{stem}.png", 256)
        target = encode_like_render(photo.image, photo.encoding)
        photos.append({"photo": stem, "cands": fit_nearest(target, index, entries, by_name)})
    (args.out / "select_scoring_photos.json").write_text(json.dumps(photos) + "\n")
    for key in ("loss", "swd"):
        first = [sorted(r["cands"], key=lambda c: c[key]) for r in renders]
        top1 = sum(o[0]["name"] == r["truth"] or o[0]["category"] == r["category"] for o, r in zip(first, renders))
        top3 = sum(any(c["name"] == r["truth"] or c["category"] == r["category"] for c in o[:3])
                   for o, r in zip(first, renders))
        chosen = [min(p["cands"], key=lambda c: c[key])["name"] for p in photos]
        right = sum(c in PHOTO_KINDS[p["photo"]] for c, p in zip(chosen, photos))
        print(f"{key}: renders top-1 {top1}/{len(renders)}, top-3 {top3}/{len(renders)}; photos of the right kind "
              f"{right}/{len(photos)}: {', '.join(chosen)}")


if __name__ == "__main__":
    main()

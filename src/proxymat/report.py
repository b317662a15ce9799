"""Outputs of an optimization run: graph, maps, images, figures, summary.json, report.html, preview.html.

The report says what was achieved: the material loss and the field's scores
(:mod:`proxymat.metrics`: patch SWD, Lab colour distance) at the start, after
Stage I and at the end, what each number means, how the run was made (command
line, version, target encoding, the loss actually used) and the next step (the
``proxymat export`` command for the folder). ``preview.html`` beside it is the
interactive 3D preview of the fitted maps (:mod:`proxymat.preview`), shown
inside the report.
"""

from __future__ import annotations

import html
import json
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .atomic import atomic_write_text
from .io import write_maps, write_png
from .plots import METHOD_COLORS, STAGE_COLORS, comparison, plot_curves, plot_time_curves, save_panels, write_gif

__all__ = ["LOSS_DOC", "METHOD_COLORS", "STAGE_COLORS", "comparison", "export_command", "fit_score_table",
           "plot_curves", "plot_time_curves", "save_panels", "write_gif", "write_report"]

LOSS_DOC = ("The loss is proxymat's material loss between the flash render of the fitted material and the "
            "target photo: texture statistics (Gram matrices of CNN features at several scales) plus colour and "
            "coarse-layout terms (an L1 between strongly downsampled images), and any further terms listed under "
            "\"loss\" below. It is what the optimizer lowered. Lower is better and 0 means the descriptors agree, "
            "but its size depends on the photo: it is not comparable across photos, only between runs on the "
            "same photo. The scores beside it are measured independently of the optimizer.")


def export_command(out_dir: Path) -> str:
    """The ``proxymat export`` command that turns this run's graph into texture maps and documents."""
    return f"proxymat export {shlex.quote(str(out_dir / 'graph.json'))} -o {shlex.quote(str(out_dir / 'export'))}"


def fit_score_table(result: Any, target: torch.Tensor) -> dict[str, dict[str, float]]:
    """{"start" | "stage1" | "final": {"loss", "patch_swd", "lab_distance"}}: the material loss and the
    field's scores of the initial graph, of Stage I's result (when the run had a Stage I) and of the final fit."""
    from .metrics import fit_scores

    first = {r.name: r for r in result.records}
    points = [("start", "init", result.records[0].loss_start if result.records else result.loss_final)]
    if "stage1" in first and "stage1" in result.renders:
        points.append(("stage1", "stage1", first["stage1"].loss_end))
    points.append(("final", "final", result.loss_final))
    t = target[:1].detach().cpu()
    return {label: {"loss": float(loss), **fit_scores(result.renders[key][:1].detach().cpu(), t)}
            for label, key, loss in points if key in result.renders}


def write_report(out_dir: Path, result: Any, target: torch.Tensor, settings: Mapping[str, Any],
                 candidates: Sequence[Mapping[str, Any]] = ()) -> dict[str, Path]:
    """Write every output of a run into ``out_dir``; returns {kind: path}.

    ``settings`` is recorded as given; the keys ``command``, ``target``, ``target_encoding`` and
    ``loss_description`` are also shown in the report's record of the run when present.
    ``candidates`` (``proxymat fit``'s ranked library graphs: name, category, descriptor_rank,
    descriptor_score, short_loss, short_swd, final_loss, final_swd and an ``image`` path relative to ``out_dir``, any of them
    None) are shown first, as a table.
    """
    from . import __version__
    from .optimize.stages import OptimizeResult
    from .preview import write_preview

    assert isinstance(result, OptimizeResult)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    graph = result.graph
    paths["graph"] = graph.save(out_dir / "graph.json")
    res = int(target.shape[-1])
    with torch.no_grad():
        maps = {k: v[:1].cpu() for k, v in graph.evaluate(res).items()}
    for p in write_maps(maps, out_dir / "maps"):
        paths[f"map_{Path(p).stem}"] = Path(p)
    paths["render"] = write_png(out_dir / "render.png", result.renders["final"][:1].cpu())
    paths["target"] = write_png(out_dir / "target.png", target[:1].cpu())
    scores = fit_score_table(result, target)
    losses = {r.name: r.loss_end for r in result.records}
    shown, notes = {"target": target}, {"target": "the photo"}
    for key, img in [("init", result.renders.get("init"))] + [(k, v) for k, v in result.renders.items()
                                                             if k not in ("init", "final")]:
        if img is None:
            continue
        label = "start" if key == "init" else key
        shown[label] = img
        loss = scores["start"]["loss"] if key == "init" else losses.get(key)
        notes[label] = f"loss {loss:.4f}" if loss is not None else ""
    shown["final"], notes["final"] = result.renders["final"], f"loss {result.loss_final:.4f}"
    paths["comparison"] = comparison(shown, out_dir / "comparison.png", notes)
    paths["curves"] = plot_curves({r.name: r.curve for r in result.records}, out_dir / "loss_curves.png")
    gif = write_gif(out_dir / "frames", out_dir / "progression.gif")
    if gif:
        paths["gif"] = gif
    paths["preview"] = write_preview(out_dir / "preview.html", maps, f"proxymat preview: {graph.name}", target=target[:1])
    summary = {
        "loss_final": result.loss_final,
        "seconds": round(result.seconds, 2),
        "scores": scores,
        "stages": [{"name": r.name, "loss_start": r.loss_start, "loss_end": r.loss_end, "iterations": len(r.curve),
                    "seconds": round(r.seconds, 2), "note": r.note} for r in result.records],
        "version": __version__,
        "next_step": export_command(out_dir),
        "settings": dict(settings),
    }
    if candidates:
        summary["candidates"] = [dict(c) for c in candidates]
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    paths["summary"] = out_dir / "summary.json"
    paths["report"] = _write_html(out_dir, paths, summary, graph.name, ", ".join(shown))
    return paths


def _change(a: float, b: float) -> str:
    return f" ({(b - a) / a * 100:+.0f} %)" if a > 0 else ""


def _scores_html(summary: Mapping[str, Any]) -> str:
    from .metrics import SCORE_DOCS

    names = {"start": "start (initial graph)", "stage1": "after Stage I (filters only)", "final": "final fit"}
    scores = summary["scores"]
    rows = "".join(f"<tr><td>{names.get(k, k)}</td><td>{s['loss']:.4f}</td><td>{s['patch_swd']:.2f}</td>"
                   f"<td>{s['lab_distance']:.2f}</td></tr>" for k, s in scores.items())
    loss = html.escape(str(summary["settings"].get("loss_description", "see the settings below")))
    docs = "".join(f"<dt>{html.escape(k.replace('_', ' '))}</dt><dd>{html.escape(v)}</dd>" for k, v in SCORE_DOCS.items())
    return (f"<table><tr><th></th><th>material loss</th><th>patch SWD (x1000)</th><th>Lab distance</th></tr>{rows}</table>"
            f"<p class='small'>Lower is better for all three.</p>"
            f"<dl><dt>material loss</dt><dd>{html.escape(LOSS_DOC)} This run's loss: {loss}.</dd>{docs}</dl>")


def _number(value: Any, digits: int) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _candidates_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ranked library graphs of ``proxymat fit``: thumbnails of their fits and their scores."""
    if not rows:
        return ""
    body = ""
    for c in rows:
        img = f"<img src='{html.escape(c['image'])}' width=96 alt=''>" if c.get("image") else ""
        body += (f"<tr><td>{img}</td><td>{html.escape(str(c['name']))}</td><td>{html.escape(str(c.get('category') or ''))}</td>"
                 f"<td>{c.get('descriptor_rank') or '&ndash;'}</td><td>{_number(c.get('descriptor_score'), 3)}</td>"
                 f"<td>{_number(c.get('short_loss'), 4)}</td><td>{_number(c.get('short_swd'), 2)}</td>"
                 f"<td>{_number(c.get('final_loss'), 4)}</td><td>{_number(c.get('final_swd'), 2)}</td></tr>")
    return ("<h2>Candidates</h2><p>The library graphs ranked for this photo: first by the distance of the photo's "
            "descriptor to the nearest of each graph's random samples; for a photo unlike every sample, the nearest "
            "dozen by the patch SWD of a short low-resolution fit to the photo. The best of those got the full "
            "pipeline; the lowest final patch SWD won for such a photo, else the lowest final loss. "
            "Images: each graph's latest fit.</p>"
            "<table><tr><th></th><th>graph</th><th>category</th><th>descriptor rank</th><th>descriptor distance</th>"
            f"<th>short-fit loss</th><th>short-fit patch SWD</th><th>final loss</th><th>final patch SWD</th></tr>"
            f"{body}</table>")


def _lead(summary: Mapping[str, Any], name: str) -> str:
    s = summary["scores"]
    start, final = s.get("start"), s["final"]
    text = f"Fitted the graph <b>{html.escape(name)}</b> to the target in {summary['seconds']:.1f} s. "
    if start is not None:
        text += (f"The material loss went from {start['loss']:.4f} to <b>{final['loss']:.4f}</b>"
                 f"{_change(start['loss'], final['loss'])}; patch SWD from {start['patch_swd']:.2f} to "
                 f"<b>{final['patch_swd']:.2f}</b>; Lab colour distance from {start['lab_distance']:.2f} to "
                 f"<b>{final['lab_distance']:.2f}</b>.")
    return text


def _write_html(out_dir: Path, paths: Mapping[str, Path], summary: Mapping[str, Any], name: str,
                comparison_order: str = "") -> Path:
    def rel(key: str) -> str:
        return html.escape(paths[key].relative_to(out_dir).as_posix())

    rows = "".join(
        f"<tr><td>{html.escape(s['name'])}</td><td>{s['loss_start']:.4f}</td><td>{s['loss_end']:.4f}</td>"
        f"<td>{s['iterations']}</td><td>{s['seconds']:.1f}</td><td>{html.escape(s['note'])}</td></tr>"
        for s in summary["stages"])
    maps = "".join(f"<figure><img src='{rel(k)}' width=160><figcaption>{html.escape(k[4:])}</figcaption></figure>"
                   for k in paths if k.startswith("map_"))
    gif = f"<h2>Progression</h2><img src='{rel('gif')}' width=256>" if "gif" in paths else ""
    settings = summary["settings"]
    record = [("command", settings.get("command", "not recorded (run from Python)")),
              ("proxymat version", summary["version"]), ("target", settings.get("target", "not recorded")),
              ("target encoding", settings.get("target_encoding", "not recorded")),
              ("loss (texture features used)", settings.get("loss_description", "not recorded"))]
    record_html = "".join(f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(str(v))}</code></dd>" for k, v in record)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>proxymat: {html.escape(name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;line-height:1.4;color:#111}}
figure{{display:inline-block;margin:4px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}
dt{{font-weight:600;margin-top:.5em}}dd{{margin-left:1.5em}}.small{{font-size:90%;color:#333}}
pre{{background:#f4f4f4;padding:.6em;overflow-x:auto}}iframe{{border:1px solid #ccc;width:100%;height:660px}}</style></head>
<body><h1>proxymat: {html.escape(name)}</h1>
<p>{_lead(summary, name)} Optimized graph: <a href='{rel('graph')}'>{rel('graph')}</a>.</p>
{_candidates_html(summary.get("candidates", ()))}
<h2>What was achieved</h2>{_scores_html(summary)}
<h2>3D preview</h2><p>The fitted maps on a plane or a sphere beside the target photo; the light starts at the camera,
like the photo's flash. <a href='{rel('preview')}'>Open the preview on its own</a>.</p>
<iframe src='{rel('preview')}' title='3D preview'></iframe>
<h2>Target, start, stages, final</h2><img src='{rel('comparison')}' style='max-width:100%' alt='comparison'>
<p>Left to right: {html.escape(comparison_order)}.</p>
<h2>Stages</h2><table><tr><th>stage</th><th>loss start</th><th>loss end</th><th>iterations</th><th>seconds</th><th>note</th></tr>{rows}</table>
<h2>Loss curves</h2><img src='{rel('curves')}' alt='loss curves'>
{gif}
<h2>Maps</h2>{maps}
<h2>How this run was made</h2><dl>{record_html}</dl>
<details><summary>All settings</summary><pre>{html.escape(json.dumps(settings, indent=2, default=str))}</pre></details>
<h2>Next step</h2><p>Export the fitted material as texture maps, a glTF and a MaterialX document:</p>
<pre>{html.escape(summary['next_step'])}</pre>
</body></html>
"""
    path = out_dir / "report.html"
    atomic_write_text(path, page)
    return path

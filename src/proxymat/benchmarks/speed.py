"""Speed benchmarks: graph forward+backward, generator throughput.

The functions return rows; ``proxymat bench graph`` and ``proxymat bench
generators`` print them as tables (``--record`` appends one to a markdown file).
Timings are medians over repeats, taken in one process.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Sequence

import torch

from ..graph import Graph


def benchmark_graph() -> Graph:
    """A 20-node graph touching most filter families (1 generator + 19 filters)."""
    g = Graph("bench20", res=256)
    noise = g.add("perlin_noise", name="noise", scale=8)
    lv = g.add("levels", name="lv", input=noise, in_low=0.1, in_high=0.9)
    bl = g.add("blur", name="bl", input=lv, radius=0.01)
    wp = g.add("warp", name="wp", input=lv, intensity_input=bl, intensity=0.3)
    hs = g.add("histogram_scan", name="hs", input=wp, position=0.5, contrast=0.2)
    n = g.add("height_to_normal", name="n", input=hs, intensity=1.0)
    ni = g.add("normal_intensity", name="ni", input=n, intensity=1.2)
    ao = g.add("ambient_occlusion", name="ao", input=hs)
    gm = g.add("gradient_map", name="gm", input=hs)
    hsl = g.add("hsl", name="hsl", input=gm, saturation=0.6)
    uc = g.add("uniform_color", name="uc", color=(0.6, 0.5, 0.4))
    bd = g.add("blend", name="bd", foreground=hsl, background=uc, mask=ao, mode="multiply", opacity=0.8)
    sh = g.add("sharpen", name="sh", input=bd, amount=0.3)
    bc = g.add("brightness_contrast", name="bc", input=sh, contrast=0.1)
    cv = g.add("curve", name="cv", input=hs)
    iv = g.add("invert", name="iv", input=cv)
    cl = g.add("clamp", name="cl", input=iv, low=0.1, high=0.9)
    db = g.add("directional_blur", name="db", input=cl, length=0.01)
    th = g.add("threshold", name="th", input=hs, threshold=0.6)
    ed = g.add("edge_detect", name="ed", input=th)
    g.set_output("basecolor", bc)
    g.set_output("normal", ni)
    g.set_output("roughness", db)
    g.set_output("metallic", ed)
    g.set_output("height", hs)
    return g


def _median_time(fn: Callable[[], Any], iters: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_graph(res: int = 256, iters: int = 5, threads: int | None = None) -> dict[str, Any]:
    """Time one optimization iteration (evaluate + render + loss + backward) of the 20-node graph."""
    from ..render import render

    if threads:
        torch.set_num_threads(threads)
    g = benchmark_graph()
    frozen = g.generator_outputs(res)
    values = {k: v.clone().requires_grad_(True) for k, v in g.normalized("filters", optimizable_only=True).items()}

    def step() -> None:
        maps = g.evaluate(res, values, frozen=frozen)
        loss = render(maps).mean()
        for v in values.values():
            v.grad = None
        loss.backward()

    def forward() -> None:
        with torch.no_grad():
            render(g.evaluate(res, values, frozen=frozen))

    return {
        "bench": "graph20_forward_backward",
        "res": res,
        "nodes": len(g.nodes),
        "params": len(values),
        "threads": torch.get_num_threads(),
        "forward_ms": round(1000 * _median_time(forward, iters), 1),
        "iteration_ms": round(1000 * _median_time(step, iters), 1),
    }


def bench_generators(resolutions: tuple[int, ...] = (128, 256, 512), batch: int = 16, iters: int = 3,
                     names: list[str] | None = None, threads: int | None = None,
                     random_params: bool = False) -> list[dict[str, Any]]:
    """Images per second of each generator, batched, at default parameters or at
    random parameters drawn in the sampling box (``random_params``)."""
    from ..proxy.model import sample_params
    from ..nodes.generators import generator_specs

    if threads:
        torch.set_num_threads(threads)
    rows = []
    for name, spec in sorted(generator_specs().items()):
        if names and name not in names:
            continue
        for res in resolutions:
            b = batch if res <= 256 else max(1, batch // 4)
            params = sample_params(spec, b, torch.Generator().manual_seed(res))[1] if random_params else spec.defaults(b)
            t = _median_time(lambda: spec(params, res, 0), iters)
            rows.append({"bench": "generator", "name": name, "res": res, "batch": b,
                         "params": "random" if random_params else "default",
                         "images_per_s": round(b / t, 1), "ms_per_image": round(1000 * t / b, 2)})
    return rows


def graph_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`bench_graph` rows."""
    lines = ["| res | threads | nodes | parameters | forward (ms) | forward + backward (ms) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['res']} | {r['threads']} | {r['nodes']} | {r['params']} | {r['forward_ms']:.1f} | "
              f"{r['iteration_ms']:.1f} |" for r in rows]
    return "\n".join(lines)


def generators_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`bench_generators` rows: images per second, one column per resolution."""
    resolutions = sorted({int(r["res"]) for r in rows})
    by = {(r["name"], int(r["res"])): r["images_per_s"] for r in rows}
    lines = ["| generator | " + " | ".join(str(res) for res in resolutions) + " |", "|---" * (len(resolutions) + 1) + "|"]
    for name in dict.fromkeys(r["name"] for r in rows):
        lines.append(f"| {name} | " + " | ".join(f"{by[(name, res)]:g}" if (name, res) in by else "-"
                                                 for res in resolutions) + " |")
    return "\n".join(lines)

"""Can autograd through the real scratches generator move its layout parameters? Slopes of the material loss.

The scratched_metal example's truth is the target (its layout seed); renders use ``--layouts`` other
layout seeds, as a fit of a photo would. For each parameter, at ``--points`` values across its range (the
others at the truth) and each layout, the autograd derivative of the loss is compared with a central finite difference of step
``--step`` (normalized units): does it have the same sign, and how large is it against that slope?
A parameter whose autograd slope agrees in sign with the finite difference on most points can be declared
``direct``; one whose autograd slope is many times the finite difference and agrees in sign about half the
time follows the strokes' pixel-level noise, not the loss's trend. Run from the repository root::

    .venv/bin/python bench/scratches_slopes.py --threads 1
"""

from __future__ import annotations

import argparse
import json

import torch

from proxymat.examples import example_truth_text
from proxymat.graph import Graph
from proxymat.optimize.loss import MaterialLoss
from proxymat.optimize.loss_config import material_loss_config
from proxymat.optimize.objective import reseeded
from proxymat.render import Renderer

PARAMS = ("spline_rotation", "spline_rotation_random", "spline_scale", "spline_distortion", "spline_width")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--step", type=float, default=0.02, help="finite-difference step (normalized units)")
    ap.add_argument("--layouts", type=int, default=3, help="render layouts (graph seeds after the truth's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    truth = Graph.loads(example_truth_text("scratched_metal"))
    renderer = Renderer()
    with torch.no_grad():
        target = renderer(truth.evaluate(args.res))
    loss = MaterialLoss(target, material_loss_config(args.res, "random", "default"))
    programs = [reseeded(truth, truth.seed + k).compile() for k in range(1, args.layouts + 1)]  # other layouts

    def with_grad(name, spec, real, norm, res, seed):  # the real generator, autograd reaching every parameter
        return spec(real, res, seed, grad=True)

    def value(program, key: str, u: torch.Tensor) -> torch.Tensor:
        return loss(renderer(program.evaluate(args.res, {key: u}, generator_hook=with_grad)))

    rows = []
    for name in PARAMS:
        key = f"scratches.{name}"
        agree, ratios = 0, []
        for program in programs:
            for j in range(args.points):
                u = torch.tensor([0.05 + 0.9 * j / max(args.points - 1, 1)], requires_grad=True)
                (grad,) = torch.autograd.grad(value(program, key, u), u)
                with torch.no_grad():
                    fd = (value(program, key, u + args.step) - value(program, key, u - args.step)).item()
                fd /= 2 * args.step
                agree += (grad.item() > 0) == (fd > 0)
                ratios.append(abs(grad.item()) / max(abs(fd), 1e-9))
        ratios.sort()
        n = len(ratios)
        row = {"parameter": name, "sign_agreement": agree / n, "median_ratio": ratios[n // 2]}
        rows.append(row)
        print(f"{name:24s} sign agrees on {agree}/{n}; |autograd| / |finite difference| median "
              f"{row['median_ratio']:.1f}", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump({"res": args.res, "step": args.step, "points": args.points, "layouts": args.layouts,
                       "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()

"""Train the E2 ablation baselines (supplemental §2) for one generator.

    python bench/train_baselines.py cells --res 64 --ae-steps 2000 --gan-steps 3000 --threads 1

writes bench/weights/{GENERATOR}_autoencoder.safetensors and
bench/weights/{GENERATOR}_gan_latent.safetensors (a log next to each).
Each model is trained from scratch in one go (no resume): both are small.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from proxymat.nodes.generators import get_generator
from proxymat.benchmarks.baselines import AutoencoderConfig, train_autoencoder, train_gan_latent
from proxymat.proxy.model import ProxyConfig
from proxymat.proxy.train import TrainConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("generator")
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--ae-steps", type=int, default=2000,
                    help="autoencoder steps (cells res 64: l1 0.35 -> ~0.2 at 300, ~0.1 at 1000; ~0.08 s/step)")
    ap.add_argument("--gan-steps", type=int, default=3000)
    ap.add_argument("--ae-lr", type=float, default=5e-4, help="autoencoder Adam lr, betas (0.9, 0.99); 2e-4..1e-3 all work")
    ap.add_argument("--z-dim", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", default="bench/weights")
    ap.add_argument("--only", choices=("autoencoder", "gan_latent"), default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = get_generator(args.generator)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for kind, steps in (("autoencoder", args.ae_steps), ("gan_latent", args.gan_steps)):
        if args.only and kind != args.only:
            continue
        path = out / f"{spec.name}_{kind}.safetensors"
        with open(path.with_suffix(".log"), "w", encoding="utf-8") as logf:
            def log(line: str) -> None:
                logf.write(line + "\n")
                logf.flush()
            tcfg = TrainConfig(steps=steps, res=args.res, features="random", log_every=50, num_threads=args.threads)
            if kind == "autoencoder":  # a plain conv net: StyleGAN's lr 0.0025 / beta1 0 makes it diverge
                tcfg = replace(tcfg, lr=args.ae_lr, betas=(0.9, 0.99))
                train_autoencoder(spec, AutoencoderConfig(res=args.res), tcfg, path, log=log)
            else:
                train_gan_latent(spec, ProxyConfig(n_params=args.z_dim, res=args.res), tcfg, path, log=log)
        print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

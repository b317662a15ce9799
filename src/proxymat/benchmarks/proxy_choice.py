"""Proxy-choice benchmark (E2, supplemental §2): which differentiable stand-in to optimize.

For ``n_targets`` held-out parameter vectors of one generator (drawn in its
sample box with :data:`TARGET_SEED`, rendered by the real generator at gen
seed 0, the seed every proxy was trained with, so an exact match is
reachable), three stand-ins are fitted by Adam with the same loss and budget:

* ``ours``: the normalized parameters ``P`` of the shipped parameter-conditioned
  proxy, started at the best of ``search`` random ``P`` (sample box,
  :data:`SEARCH_SEED`; their proxy maps are computed once and shared by all
  targets, like the pool) and clamped to [0, 1]; projection = the real
  generator at the recovered parameters;
* ``autoencoder``: the latent ``z`` of :class:`AutoencoderProxy`, started at
  :meth:`~AutoencoderProxy.latent_init`;
* ``gan_latent``: the W+ code of :class:`GanLatentProxy`, started at
  :meth:`~GanLatentProxy.init_wplus`.

The latent baselines have no parameters to render, so their projection is the
nearest real map (lowest loss to their output) in a fixed pool of ``pool``
real-generator maps (sample box, :data:`POOL_SEED`), shared by all targets and
methods. Two references come with each target: ``pool_oracle`` (the pool map
closest to the target itself) and ``true_params`` (the real generator at the
target's own ``P`` mapped back through :func:`denormalize_params`: 0 for a
deterministic generator, a sanity check of the projection path).

Loss, both to fit and to report: ``pixel L1 + MaterialLoss`` (Gram descriptor +
low-resolution L1, grey maps repeated to RGB). Learning rates are relative to
the spread of each code (mean per-coordinate std over random samples) and
follow a cosine decay; the best iterate is kept. Times: ``fit_seconds`` (own
space, for ``ours`` including its share of scoring the search maps, whose
proxy evaluation is reported once as ``search_seconds``) and
``project_seconds`` (one render for ``ours``; for pool methods their share of
the pool search, whose rendering is reported once as ``pool_seconds``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..features import TextureFeatures, gram_descriptor
from ..io import resize_square
from ..nodes.generators.base import GeneratorSpec
from ..optimize.loss import LossConfig, MaterialLoss, pick_scales
from ..proxy.model import denormalize_params, sample_params

TARGET_SEED = 20_240_602  # held-out targets: training draws with seed 0, validation 1_000_003, E1 12345
POOL_SEED = 20_240_603
SEARCH_SEED = 20_240_604
GEN_SEED = 0  # the generator seed the proxies and baselines were trained with
METHODS: tuple[str, ...] = ("ours", "autoencoder", "gan_latent")
REFERENCES: tuple[str, ...] = ("pool_oracle", "true_params")
FIGURE_COLUMNS: tuple[str, ...] = (
    "target", "ours_out", "ours_proj", "autoencoder_out", "autoencoder_proj", "gan_latent_out", "gan_latent_proj",
)
TRAIN_COMMAND = "python bench/train_baselines.py {generator} --res 64 --out-dir {folder}"


class MissingBaselineError(FileNotFoundError):
    """A baseline weight file of the benchmark is not there."""


@dataclass(frozen=True)
class FitSettings:
    """Optimizer budget shared by the three methods (``lr`` is relative to each code's spread)."""

    steps: int = 300
    lr: float = 0.1
    search: int = 1024  # as many candidates as the default pool


@dataclass
class ChoiceData:
    """Targets and the shared pool of real maps, all at ``res``."""

    spec: GeneratorSpec
    res: int
    target_p: torch.Tensor
    targets: torch.Tensor
    pool_p: torch.Tensor
    pool: torch.Tensor
    pool_seconds: float = 0.0


@dataclass
class Fit:
    """Result of one own-space fit."""

    code: torch.Tensor
    image: torch.Tensor
    init_loss: float
    loss: float
    seconds: float


@dataclass
class Scoring:
    """The benchmark loss: pixel L1 + :class:`MaterialLoss` on grey maps repeated to RGB."""

    features: TextureFeatures
    config: LossConfig = field(default_factory=LossConfig)

    def against(self, target: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """Per-image loss (B,) of maps (B, 1, H, W) against one target map (1, 1, H, W)."""
        material = MaterialLoss(rgb(target), self.config, self.features)

        def per_image(maps: torch.Tensor) -> torch.Tensor:
            return pixel_l1(maps, target) + material.per_image(rgb(maps))

        return per_image

    def describe(self, maps: torch.Tensor, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pixels, Gram descriptor, downsampled maps), flattened per image, as MaterialLoss computes them."""
        scales = pick_scales(int(maps.shape[-1]), self.config.scales)
        parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            for start in range(0, maps.shape[0], chunk):
                x = rgb(maps[start : start + chunk])
                gram = gram_descriptor(x, self.features, scales, self.config.layers)
                ds = F.adaptive_avg_pool2d(x, self.config.ds_res).flatten(1)
                parts.append((maps[start : start + chunk].flatten(1), gram, ds))
        return tuple(torch.cat(p) for p in zip(*parts))  # type: ignore[return-value]

    def pairwise(self, queries: torch.Tensor, pool: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """Loss matrix (Q, N): each query map against each pool map (symmetric, so either can be the target)."""
        q_pix, q_gram, q_ds = self.describe(queries)
        c = self.config
        out = torch.empty(queries.shape[0], pool.shape[0])
        for start in range(0, pool.shape[0], chunk):
            p_pix, p_gram, p_ds = self.describe(pool[start : start + chunk], chunk)
            for k in range(queries.shape[0]):
                d = (p_pix - q_pix[k]).abs().mean(1)
                d = d + c.gram_weight * (p_gram - q_gram[k]).abs().mean(1)
                d = d + c.l1_weight * (p_ds - q_ds[k]).abs().mean(1)
                out[k, start : start + chunk] = d
        return out


# ----------------------------------------------------------------------- helpers
def rgb(maps: torch.Tensor) -> torch.Tensor:
    """Grey maps (B, 1, H, W) -> (B, 3, H, W)."""
    return maps.expand(-1, 3, -1, -1)


def pixel_l1(maps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (maps - target).abs().flatten(1).mean(1)


def render(spec: GeneratorSpec, p_norm: torch.Tensor, res: int, chunk: int = 64) -> torch.Tensor:
    """Real generator maps (B, 1, res, res) at normalized parameters, gen seed :data:`GEN_SEED`."""
    outs = []
    with torch.no_grad():
        for start in range(0, p_norm.shape[0], chunk):
            real = denormalize_params(spec, p_norm[start : start + chunk])
            outs.append(spec(real, res, GEN_SEED).float())
    return torch.cat(outs)


def code_spread(codes: torch.Tensor) -> float:
    """Mean per-coordinate standard deviation over a batch of codes (the lr unit)."""
    return float(codes.flatten(1).std(dim=0).mean().clamp_min(1e-6))


def make_data(spec: GeneratorSpec, res: int, n_targets: int, pool: int,
              target_seed: int = TARGET_SEED, pool_seed: int = POOL_SEED) -> ChoiceData:
    """Held-out targets and the shared pool, rendered by the real generator."""
    t_p, _ = sample_params(spec, n_targets, torch.Generator().manual_seed(target_seed))
    p_p, _ = sample_params(spec, pool, torch.Generator().manual_seed(pool_seed))
    t0 = time.perf_counter()
    pool_maps = render(spec, p_p, res)
    pool_seconds = time.perf_counter() - t0
    return ChoiceData(spec, res, t_p, render(spec, t_p, res), p_p, pool_maps, pool_seconds)


# ----------------------------------------------------------------------- fitting
def fit_code(decode: Callable[[torch.Tensor], torch.Tensor], code0: torch.Tensor,
             loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, lr: float,
             bounds: tuple[float, float] | None = None) -> Fit:
    """Adam on ``code`` (cosine-decayed ``lr``, optional clamping); keeps the best iterate."""
    t0 = time.perf_counter()
    code = code0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([code], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * k / max(steps, 1))))
    best_code, best, init = code.detach().clone(), math.inf, math.nan
    for k in range(steps + 1):
        loss = loss_fn(decode(code)).mean()
        value = float(loss.detach())
        if k == 0:
            init = value
        if value < best:
            best, best_code = value, code.detach().clone()
        if k == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if bounds is not None:
            with torch.no_grad():
                code.clamp_(*bounds)
    with torch.no_grad():
        image = decode(best_code)
    return Fit(best_code, image, init, best, time.perf_counter() - t0)


@dataclass
class SearchStarts:
    """Our proxy's maps at ``search`` random P (sample box, :data:`SEARCH_SEED`): computed once and
    shared by all targets, as the pool is for the latent baselines."""

    p: torch.Tensor
    maps: torch.Tensor
    seconds: float

    @staticmethod
    def make(proxy: Callable[[torch.Tensor], torch.Tensor], spec: GeneratorSpec, res: int, n: int,
             chunk: int = 64) -> "SearchStarts":
        cand, _ = sample_params(spec, max(n, 1), torch.Generator().manual_seed(SEARCH_SEED))
        t0 = time.perf_counter()
        with torch.no_grad():
            maps = torch.cat([resize_square(proxy(cand[s : s + chunk]), res) for s in range(0, cand.shape[0], chunk)])
        return SearchStarts(cand, maps, time.perf_counter() - t0)

    def best_for(self, targets: torch.Tensor, scoring: "Scoring") -> tuple[torch.Tensor, float]:
        """The lowest-loss start of each target, (T, n_params), and the scoring's seconds per target."""
        t0 = time.perf_counter()
        best = scoring.pairwise(targets, self.maps).argmin(dim=1)
        return self.p[best], (time.perf_counter() - t0) / max(targets.shape[0], 1)


def fit_methods(data: ChoiceData, loss_fn: Callable[[torch.Tensor], torch.Tensor],
                proxy: Callable[[torch.Tensor], torch.Tensor], autoencoder: nn.Module, gan: nn.Module,
                settings: FitSettings, spreads: dict[str, float], p0: torch.Tensor, search_s: float) -> dict[str, Fit]:
    """The three own-space fits against one target; ours starts at ``p0`` (1, n_params), found in ``search_s``."""
    res, spec = data.res, data.spec
    ours = fit_code(lambda p: resize_square(proxy(p), res), p0, loss_fn, settings.steps, settings.lr * spreads["ours"], (0.0, 1.0))
    ours.seconds += search_s
    z0 = autoencoder.latent_init(spec, gen_seed=GEN_SEED)
    ae = fit_code(lambda z: resize_square(autoencoder(z), res), z0, loss_fn, settings.steps, settings.lr * spreads["autoencoder"])
    w0 = gan.init_wplus(1)
    gl = fit_code(lambda w: resize_square(gan(w), res), w0, loss_fn, settings.steps, settings.lr * spreads["gan_latent"])
    return {"ours": ours, "autoencoder": ae, "gan_latent": gl}


def method_spreads(data: ChoiceData, autoencoder: nn.Module, gan: nn.Module, n: int = 64) -> dict[str, float]:
    """Code spreads: of P over the pool, of AE codes of pool maps, of w over Gaussian z."""
    with torch.no_grad():
        ae_res = int(autoencoder.config.res)
        ae_codes = autoencoder.encode(resize_square(data.pool[:n], ae_res))
        z = torch.randn(4 * n, gan.z_dim, generator=torch.Generator().manual_seed(SEARCH_SEED))
        ws = gan.net.mapping(z.to(gan.w_avg.device))
    return {"ours": code_spread(data.pool_p), "autoencoder": code_spread(ae_codes), "gan_latent": code_spread(ws)}


# ---------------------------------------------------------------------- benchmark
def compare_methods(data: ChoiceData, proxy: Callable[[torch.Tensor], torch.Tensor], autoencoder: nn.Module,
                    gan: nn.Module, scoring: Scoring, settings: FitSettings = FitSettings(),
                    progress: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, torch.Tensor]]]:
    """Fit, project and score every method on every target -> (rows, figure images per target)."""
    from tqdm.auto import tqdm

    for model in (autoencoder, gan):
        model.requires_grad_(False).eval()
    if isinstance(proxy, nn.Module):
        proxy.requires_grad_(False).eval()
    spreads = method_spreads(data, autoencoder, gan)
    n = int(data.targets.shape[0])
    search = SearchStarts.make(proxy, data.spec, data.res, settings.search)
    starts, search_share = search.best_for(data.targets, scoring)
    fits: list[dict[str, Fit]] = []
    for t in tqdm(range(n), desc=f"e2 {data.spec.name}", disable=not progress, leave=False):
        target = data.targets[t : t + 1]
        fits.append(fit_methods(data, scoring.against(target), proxy, autoencoder, gan, settings, spreads,
                                starts[t : t + 1], search_share))
    # One pass over the pool for all queries: the targets (oracle), then (AE, GAN) outputs per target.
    queries = torch.cat([data.targets] + [f[m].image for f in fits for m in ("autoencoder", "gan_latent")])
    t0 = time.perf_counter()
    nearest = scoring.pairwise(queries, data.pool).argmin(dim=1).tolist()
    share = (time.perf_counter() - t0) / queries.shape[0]
    rows: list[dict[str, Any]] = []
    images: list[dict[str, torch.Tensor]] = []
    for t, fit in enumerate(fits):
        with torch.no_grad():
            at_truth = resize_square(proxy(data.target_p[t : t + 1]), data.res)
        choice = {"pool_oracle": nearest[t], "autoencoder": nearest[n + 2 * t], "gan_latent": nearest[n + 2 * t + 1]}
        r, im = _target_rows(data, t, fit, choice, at_truth, share, scoring, settings, search.seconds)
        rows += r
        images.append(im)
    return rows, images


def _target_rows(data: ChoiceData, t: int, fit: dict[str, Fit], choice: dict[str, int], proxy_at_truth: torch.Tensor,
                 share: float, scoring: Scoring, settings: FitSettings,
                 search_seconds: float) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """Rows (methods, then references) and figure images of target ``t``."""
    target, p_true = data.targets[t : t + 1], data.target_p[t : t + 1]
    loss_fn = scoring.against(target)
    base = {"bench": "proxy_choice", "generator": data.spec.name, "res": data.res, "target": t,
            "steps": settings.steps, "pool": int(data.pool.shape[0]), "pool_seconds": round(data.pool_seconds, 3),
            "search": settings.search, "search_seconds": round(search_seconds, 3)}

    def row(method: str, fit_: Fit | None, proj: torch.Tensor, p_proj: torch.Tensor, proj_s: float, **extra: Any) -> dict[str, Any]:
        with torch.no_grad():
            loss = float(loss_fn(proj)[0])
        fit_s = 0.0 if fit_ is None else fit_.seconds
        return {**base, "method": method,
                "init_loss": None if fit_ is None else fit_.init_loss,
                "fit_loss": None if fit_ is None else fit_.loss,
                "fit_l1": None if fit_ is None else float(pixel_l1(fit_.image, target)[0]),
                "projected_loss": loss, "projected_l1": float(pixel_l1(proj, target)[0]),
                "param_error": float((p_proj - p_true).abs().mean()),
                "fit_seconds": round(fit_s, 3), "project_seconds": round(proj_s, 4), "seconds": round(fit_s + proj_s, 3),
                **extra}

    ours = fit["ours"]
    t0 = time.perf_counter()
    ours_proj = render(data.spec, ours.code, data.res)
    with torch.no_grad():
        at_truth = float(loss_fn(proxy_at_truth)[0])
    rows = [row("ours", ours, ours_proj, ours.code, time.perf_counter() - t0,
                params=ours.code[0].tolist(), proxy_loss_at_truth=at_truth)]
    images = {"target": target, "ours_out": ours.image, "ours_proj": ours_proj}
    for method in ("autoencoder", "gan_latent"):
        j = choice[method]
        rows.append(row(method, fit[method], data.pool[j : j + 1], data.pool_p[j : j + 1], share, pool_index=j))
        images.update({f"{method}_out": fit[method].image, f"{method}_proj": data.pool[j : j + 1]})
    j = choice["pool_oracle"]
    rows.append(row("pool_oracle", None, data.pool[j : j + 1], data.pool_p[j : j + 1], share, pool_index=j))
    rows.append(row("true_params", None, render(data.spec, p_true, data.res), p_true, 0.0))
    return rows, images


# ------------------------------------------------------------------ files, entry
def baseline_paths(generator: str, folder: str | Path) -> dict[str, Path]:
    return {kind: Path(folder) / f"{generator}_{kind}.safetensors" for kind in ("autoencoder", "gan_latent")}


def available_generators(folder: str | Path) -> list[str]:
    """Generators with both baseline files in ``folder`` (sorted)."""
    folder = Path(folder)
    names = sorted(p.name[: -len("_autoencoder.safetensors")] for p in folder.glob("*_autoencoder.safetensors"))
    return [n for n in names if all(p.is_file() for p in baseline_paths(n, folder).values())]


def load_baselines(generator: str, folder: str | Path) -> tuple[nn.Module, nn.Module]:
    """(autoencoder, GAN-latent) baselines of ``generator``; :class:`MissingBaselineError` names the training command."""
    from .baselines import AutoencoderProxy, GanLatentProxy, load_baseline
    from ..proxy.weights import ProxyWeightsError

    paths = baseline_paths(generator, folder)
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        cmd = TRAIN_COMMAND.format(generator=generator, folder=folder)
        raise MissingBaselineError(f"E2 baseline weights missing ({', '.join(missing)}); train them with: {cmd}")
    models = {kind: load_baseline(path) for kind, path in paths.items()}
    for (kind, model), cls in zip(models.items(), (AutoencoderProxy, GanLatentProxy)):
        if not isinstance(model, cls) or getattr(model, "spec_name", generator) != generator:
            raise ProxyWeightsError(f"{paths[kind]}: not a {kind} baseline of generator {generator!r}")
    return models["autoencoder"], models["gan_latent"]


def run_proxy_choice(generator: str, *, n_targets: int = 8, steps: int = 300, pool: int = 1024, res: int | None = None,
                     seed: int = TARGET_SEED, baselines_dir: str | Path = "bench/weights",
                     proxy: Callable[[torch.Tensor], torch.Tensor] | None = None, figures: str | Path | None = None,
                     lr: float = 0.1, search: int = 1024, features: str = "auto",
                     progress: bool = True) -> list[dict[str, Any]]:
    """E2 on one generator with its shipped proxy (or ``proxy``) and the baselines in ``baselines_dir``.

    ``res`` defaults to the proxy's resolution; rows are JSON-serialisable,
    one per (target, method) with the references ``pool_oracle`` and ``true_params``.
    """
    from ..nodes.generators import get_generator
    from ..proxy.weights import load_proxy

    spec = get_generator(generator)
    autoencoder, gan = load_baselines(spec.name, baselines_dir)
    proxy = proxy if proxy is not None else load_proxy(spec.name, spec=spec)
    res = int(res or getattr(proxy, "res", 0) or autoencoder.config.res)
    data = make_data(spec, res, n_targets, pool, target_seed=seed)
    scoring = Scoring(TextureFeatures(features))
    rows, images = compare_methods(data, proxy, autoencoder, gan, scoring, FitSettings(steps, lr, search), progress)
    if figures is not None:
        figure = str(write_figure(images, Path(figures) / f"e2_{spec.name}.png"))
        for r in rows:
            r["figure"] = figure
    return rows


def write_figure(images: Sequence[dict[str, torch.Tensor]], path: str | Path, gap: int = 2) -> Path:
    """One row per target, columns :data:`FIGURE_COLUMNS`, white gaps; an 8-bit grey PNG."""
    from ..io import write_png

    h = images[0]["target"].shape[-1]
    cols = len(FIGURE_COLUMNS)
    canvas = torch.ones(1, len(images) * (h + gap) - gap, cols * (h + gap) - gap)
    for r, im in enumerate(images):
        for c, name in enumerate(FIGURE_COLUMNS):
            y, x = r * (h + gap), c * (h + gap)
            canvas[0, y : y + h, x : x + h] = im[name][0, 0].detach().float().cpu().clamp(0, 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, canvas)


def summarize(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table: per generator and method, means over targets (lowest projected loss of a method in bold)."""
    lines = ["| generator | method | fit loss | projected loss | projected L1 | param error | seconds | targets |",
             "|---|---|---|---|---|---|---|---|"]
    for gen in dict.fromkeys(r["generator"] for r in rows):
        by = {m: [r for r in rows if r["generator"] == gen and r["method"] == m] for m in METHODS + REFERENCES}
        means = {m: _mean([r["projected_loss"] for r in rs]) for m, rs in by.items() if rs}
        best = min((v for m, v in means.items() if m in METHODS), default=None)
        for m, rs in by.items():
            if not rs:
                continue
            proj = f"{means[m]:.4f}"
            proj = f"**{proj}**" if means[m] == best else proj
            fit = _mean([r["fit_loss"] for r in rs if r["fit_loss"] is not None])
            cells = ["-" if fit is None else f"{fit:.4f}", proj, f"{_mean([r['projected_l1'] for r in rs]):.4f}",
                     f"{_mean([r['param_error'] for r in rs]):.3f}", f"{_mean([r['seconds'] for r in rs]):.1f}", str(len(rs))]
            lines.append(f"| {gen} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


__all__ = [
    "ChoiceData", "FitSettings", "available_generators", "MissingBaselineError", "Scoring", "compare_methods", "fit_code", "load_baselines",
    "make_data", "run_proxy_choice", "SearchStarts", "summarize", "write_figure",
]

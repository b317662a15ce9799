"""Parameter-conditioned StyleGAN2-style synthesis network (the differentiable proxy).

The proxy maps the *normalized* parameters ``P`` (B, n) in [0, 1] of a generator
to one grayscale map. Architecture (implemented here from scratch, after the
method's description):

* mapping: optional one-hot expansion of categorical inputs (``categories``),
  ``embed`` FC(n -> w_dim), second-moment normalization, ``map_depth``
  FC layers with leaky ReLU, equalized learning rate with a 0.01 multiplier;
  the single ``w`` is shared by every layer (no style mixing, no noise);
* synthesis: a learned 4x4 constant, per resolution two modulated 3x3 convs with
  weight demodulation (the first one after a x2 [1,3,3,1] upsampling), and a
  "skip" output: a modulated 1x1 toRGB (1 channel, no demodulation) per
  resolution summed with the upsampled image of the previous resolution;
* optional Fourier position inputs (``fourier`` K > 0, not in the method): at the
  first resolution above 2K, ``sin`` and ``cos`` of 2 pi k x and 2 pi k y for
  k = 1..K join the upsampled features, so that the styles can pick a count's
  frequency (bricks per row, tiles per side) instead of building it from the
  4x4 constant through local convolutions. They are periodic over the map,
  so a tileable proxy stays tileable.

Spatial operations wrap around by default (``padding="circular"``) because the
generators are tileable. This module also holds the small helpers that turn a
generator's real parameters into proxy inputs and back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..nodes.generators.base import GeneratorSpec
from ..param_space import ParamSpace
from ..params import ParamSpec
from ..resolution import PROXY_RES

# Feature maps per resolution; sized for 2 CPU cores (about 1 M parameters at 128).
DEFAULT_CHANNELS: dict[int, int] = {4: 128, 8: 128, 16: 96, 32: 64, 64: 32, 128: 16, 256: 16, 512: 8, 1024: 8}
_LRELU_GAIN = math.sqrt(2.0)


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ProxyConfig:
    """Hyperparameters of :class:`ProxyNet`.

    ``channels`` lists the feature maps at 4, 8, ..., ``res`` (one per
    resolution); empty means :data:`DEFAULT_CHANNELS`.

    ``categories`` gives, per input, its number of choices when the mapping
    network should see it one-hot (an enum: the normalized index is rounded to
    its choice), or 0 for a scalar input; empty means every input is scalar.
    One-hot inputs carry no gradient (categorical parameters are swept, not
    descended).

    ``fourier`` K > 0 adds sin and cos of K frequencies along x and y as
    inputs of the first convolution at :attr:`fourier_res` (see the module
    docstring); 0 keeps the method's network.
    """

    n_params: int
    res: int = 128
    w_dim: int = 256
    map_depth: int = 4
    channels: tuple[int, ...] = field(default=())
    lr_mapping_mult: float = 0.01
    padding: str = "circular"
    conv_clamp: float | None = None
    categories: tuple[int, ...] = field(default=())
    fourier: int = 0

    def __post_init__(self) -> None:
        if self.n_params < 1:
            raise ValueError(f"ProxyConfig: n_params must be >= 1, got {self.n_params}")
        cats = tuple(int(c) for c in self.categories)
        if cats and (len(cats) != self.n_params or any(c == 1 or c < 0 for c in cats)):
            raise ValueError(f"ProxyConfig: categories must list 0 or a choice count >= 2 for each of the "
                             f"{self.n_params} inputs, got {cats}")
        object.__setattr__(self, "categories", cats)
        if not PROXY_RES.accepts(self.res):
            raise ValueError(f"ProxyConfig: {PROXY_RES.problem(self.res)}")
        if self.padding not in ("circular", "zeros"):
            raise ValueError(f"ProxyConfig: padding must be 'circular' or 'zeros', got {self.padding!r}")
        n_levels = int(math.log2(self.res)) - 1
        chans = tuple(int(c) for c in self.channels) or tuple(DEFAULT_CHANNELS[4 << k] for k in range(n_levels))
        if len(chans) != n_levels or min(chans) < 1:
            raise ValueError(f"ProxyConfig: need {n_levels} positive channel counts for res {self.res}, got {chans}")
        object.__setattr__(self, "channels", chans)
        if self.fourier < 0 or (self.fourier and self.fourier_res > self.res):
            raise ValueError(f"ProxyConfig: fourier must be >= 0 with 2 * fourier < res {self.res}, got {self.fourier}")

    @property
    def fourier_res(self) -> int:
        """The resolution whose first conv sees the Fourier inputs: the first above ``2 * fourier``
        (at least 8; 0 without them)."""
        if not self.fourier:
            return 0
        r = 8
        while r <= 2 * self.fourier:
            r *= 2
        return r

    @property
    def resolutions(self) -> tuple[int, ...]:
        return tuple(4 << k for k in range(len(self.channels)))

    @property
    def embed_inputs(self) -> int:
        """Width of the mapping network's first layer: one column per scalar input, one per choice."""
        return sum(c or 1 for c in self.categories) if self.categories else self.n_params

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        if self.categories:
            d["categories"] = list(self.categories)
        else:
            d.pop("categories")  # files written before one-hot inputs existed stay byte-identical
        if not self.fourier:
            d.pop("fourier")  # and those of proxies without Fourier inputs
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ProxyConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("channels", "categories"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


# ------------------------------------------------------------------ basic layers
def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit mean square."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate and an lr multiplier."""

    def __init__(self, n_in: int, n_out: int, bias_init: float = 0.0, lr_mult: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_mult)
        self.bias = nn.Parameter(torch.full((n_out,), float(bias_init) / lr_mult))
        self.w_gain = lr_mult / math.sqrt(n_in)
        self.b_gain = lr_mult
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.w_gain, self.bias * self.b_gain)
        return F.leaky_relu(x, 0.2) * _LRELU_GAIN if self.act else x


def expand_categories(p: torch.Tensor, categories: tuple[int, ...]) -> torch.Tensor:
    """P (B, n) -> (B, sum(c or 1)): column k one-hot over its ``categories[k]`` choices when that is
    non-zero (index ``round(p * (c - 1))``, clamped), else kept as is. Empty ``categories``: P unchanged."""
    if not categories:
        return p
    cols = []
    for k, c in enumerate(categories):
        col = p[:, k]
        if c:
            idx = torch.round(col.detach() * (c - 1)).clamp(0, c - 1).long()
            cols.append(F.one_hot(idx, c).to(p.dtype))
        else:
            cols.append(col[:, None])
    return torch.cat(cols, dim=1)


class MappingNet(nn.Module):
    """P (B, n) -> w (B, w_dim)."""

    def __init__(self, cfg: ProxyConfig):
        super().__init__()
        self.categories = cfg.categories
        self.embed = EqualLinear(cfg.embed_inputs, cfg.w_dim)
        self.layers = nn.ModuleList(
            EqualLinear(cfg.w_dim, cfg.w_dim, lr_mult=cfg.lr_mapping_mult, act=True) for _ in range(cfg.map_depth)
        )

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(self.embed(expand_categories(p, self.categories)))
        for layer in self.layers:
            x = layer(x)
        return x


def _pad(x: torch.Tensor, k: int, circular: bool) -> torch.Tensor:
    pad = k // 2
    return F.pad(x, (pad, pad, pad, pad), mode="circular" if circular else "constant")


def upsample2x(x: torch.Tensor, circular: bool = True) -> torch.Tensor:
    """x2 upsampling with the separable [1,3,3,1] filter (= half-pixel bilinear).

    ``out[2i] = 3/4 x[i] + 1/4 x[i-1]`` and ``out[2i+1] = 3/4 x[i] + 1/4 x[i+1]``
    along each axis; borders wrap around (``circular``) or repeat the edge.
    """
    for dim in (-1, -2):
        prev, nxt = _neighbours(x, dim, circular)
        even = 0.75 * x + 0.25 * prev
        odd = 0.75 * x + 0.25 * nxt
        x = torch.stack((even, odd), dim=dim).flatten(dim - 1, dim)  # interleave along ``dim``
    return x


def fourier_inputs(res: int, k: int) -> torch.Tensor:
    """(4k, res, res): sin and cos of 2 pi f x, then of 2 pi f y, for f = 1..k, x and y in [0, 1) at pixel centres."""
    t = (torch.arange(res, dtype=torch.float64) + 0.5) / res
    phase = 2 * math.pi * torch.arange(1, k + 1, dtype=torch.float64)[:, None] * t[None]  # (k, res)
    waves = torch.cat([phase.sin(), phase.cos()])  # (2k, res)
    along_x = waves[:, None, :].expand(-1, res, -1)
    along_y = waves[:, :, None].expand(-1, -1, res)
    return torch.cat([along_x, along_y]).float()


def _neighbours(x: torch.Tensor, dim: int, circular: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if circular:
        return torch.roll(x, 1, dims=dim), torch.roll(x, -1, dims=dim)
    n = x.shape[dim]
    idx_prev = torch.clamp(torch.arange(n, device=x.device) - 1, min=0)
    idx_next = torch.clamp(torch.arange(n, device=x.device) + 1, max=n - 1)
    return x.index_select(dim, idx_prev), x.index_select(dim, idx_next)


class ModulatedConv(nn.Module):
    """Style-modulated conv (k x k) with optional demodulation, bias and activation.

    Implemented without grouped convolution: scaling the input channels by the
    style and the output channels by the demodulation coefficient is exactly
    equivalent to convolving with per-sample modulated/demodulated weights.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        w_dim: int,
        kernel: int = 3,
        demodulate: bool = True,
        act: bool = True,
        circular: bool = True,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.w_gain = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.kernel, self.demodulate, self.act, self.circular = kernel, demodulate, act, circular
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # (B, c_in)
        weight = self.weight * self.w_gain
        x = x * styles[:, :, None, None]
        if self.kernel > 1:
            x = _pad(x, self.kernel, self.circular)
        x = F.conv2d(x, weight)
        if self.demodulate:
            # sum_{i,k} (W_oik * s_i)^2 = sum_i s_i^2 * sum_k W_oik^2
            d = (styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8).rsqrt()  # (B, c_out)
            x = x * d[:, :, None, None]
        x = x + self.bias[None, :, None, None]
        if self.act:
            x = F.leaky_relu(x, 0.2) * _LRELU_GAIN
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class SynthesisBlock(nn.Module):
    """One resolution: [upsample, (Fourier inputs,) conv], conv, toRGB."""

    def __init__(self, c_in: int, c_out: int, cfg: ProxyConfig, first: bool, res: int = 0):
        super().__init__()
        circ = cfg.padding == "circular"
        self.first, self.circular = first, circ
        injects = not first and bool(cfg.fourier) and res == cfg.fourier_res
        self.fourier: torch.Tensor | None
        self.register_buffer("fourier", fourier_inputs(res, cfg.fourier) if injects else None, persistent=False)
        extra = 4 * cfg.fourier if injects else 0
        self.conv0 = None if first else ModulatedConv(c_in + extra, c_out, cfg.w_dim, circular=circ,
                                                      conv_clamp=cfg.conv_clamp)
        self.conv1 = ModulatedConv(c_out, c_out, cfg.w_dim, circular=circ, conv_clamp=cfg.conv_clamp)
        self.torgb = ModulatedConv(c_out, 1, cfg.w_dim, kernel=1, demodulate=False, act=False, circular=circ)

    @property
    def num_ws(self) -> int:
        """Modulated layers (each takes one w in W+)."""
        return 2 if self.conv0 is None else 3

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``ws``: (B, num_ws, w_dim), one w per modulated layer."""
        k = 0
        if self.conv0 is not None:
            x = upsample2x(x, self.circular)
            if self.fourier is not None:
                x = torch.cat([x, self.fourier.to(x.dtype)[None].expand(x.shape[0], -1, -1, -1)], dim=1)
            x = self.conv0(x, ws[:, 0])
            k = 1
        x = self.conv1(x, ws[:, k])
        y = self.torgb(x, ws[:, k + 1])
        img = y if img is None else upsample2x(img, self.circular) + y
        return x, img


class ProxyNet(nn.Module):
    """Normalized generator parameters (B, n) -> grayscale map (B, 1, res, res)."""

    def __init__(self, config: ProxyConfig):
        super().__init__()
        self.config = config
        chans = config.channels
        self.mapping = MappingNet(config)
        self.const = nn.Parameter(torch.randn(chans[0], 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(chans[max(k - 1, 0)], chans[k], config, first=(k == 0), res=4 << k) for k in range(len(chans))
        )

    @property
    def n_params(self) -> int:
        return self.config.n_params

    @property
    def res(self) -> int:
        return self.config.res

    @property
    def num_ws(self) -> int:
        """Length of a W+ code (one w per modulated layer)."""
        return sum(block.num_ws for block in self.blocks)

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Raw image from w (B, w_dim), broadcast to every layer, or from W+ (B, num_ws, w_dim)."""
        if w.ndim == 2:
            w = w[:, None].expand(-1, self.num_ws, -1)
        if w.ndim != 3 or w.shape[1:] != (self.num_ws, self.config.w_dim):
            raise ValueError(f"ProxyNet: expected w of shape (B, {self.config.w_dim}) or (B, {self.num_ws}, {self.config.w_dim})")
        x = self.const[None].expand(w.shape[0], -1, -1, -1)
        img, k = None, 0
        for block in self.blocks:
            x, img = block(x, img, w[:, k : k + block.num_ws])
            k += block.num_ws
        return img

    def forward_raw(self, p: torch.Tensor) -> torch.Tensor:
        """Unbounded output, roughly in [-1, 1] (used for training losses)."""
        if p.ndim != 2 or p.shape[1] != self.config.n_params:
            raise ValueError(f"ProxyNet: expected P of shape (B, {self.config.n_params}), got {tuple(p.shape)}")
        return self.synthesis(self.mapping(p.to(self.const.dtype)))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        """Map in [0, 1]: ``clamp((raw + 1) / 2, 0, 1)``."""
        return ((self.forward_raw(p) + 1.0) * 0.5).clamp(0.0, 1.0)


def build_proxy(config: ProxyConfig, seed: int = 0) -> ProxyNet:
    """A freshly initialized :class:`ProxyNet`, deterministic for ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ProxyNet(config)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------ generator params <-> P
def proxy_inputs(spec: GeneratorSpec) -> tuple[ParamSpec, ...]:
    """The parameters a proxy of ``spec`` takes, in order: all but the ``fixed`` ones."""
    inputs = tuple(p for p in spec.params if p.name not in spec.fixed)
    bad = [p.name for p in inputs if p.size != 1]
    if bad:
        raise ValueError(f"generator {spec.name!r}: proxy inputs must be scalar parameters, not {bad}")
    if not inputs:
        raise ValueError(f"generator {spec.name!r} has no free parameter to build a proxy on")
    return inputs


def one_hot_categories(spec: GeneratorSpec) -> tuple[int, ...]:
    """:attr:`ProxyConfig.categories` that feeds every enum input of ``spec``'s proxy one-hot."""
    return tuple(len(p.choices) if p.kind == "enum" else 0 for p in proxy_inputs(spec))


def normalize_params(spec: GeneratorSpec, real: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Real-unit parameters {name: (B,)} -> proxy input P (B, n) over each FULL [low, high] range."""
    cols = [p.normalize_tensor(torch.as_tensor(real[p.name], dtype=torch.float32).reshape(-1)) for p in proxy_inputs(spec)]
    return torch.stack(cols, dim=1)


def denormalize_params(spec: GeneratorSpec, p_norm: torch.Tensor) -> dict[str, torch.Tensor]:
    """Proxy input P (B, n) -> real-unit parameters (discrete ones rounded, fixed ones pinned)."""
    inputs = proxy_inputs(spec)
    if p_norm.ndim != 2 or p_norm.shape[1] != len(inputs):
        raise ValueError(f"generator {spec.name!r}: expected P of shape (B, {len(inputs)}), got {tuple(p_norm.shape)}")
    out = {p.name: p.denormalize_tensor(p_norm[:, k].detach().float()) for k, p in enumerate(inputs)}
    batch = p_norm.shape[0]
    for name, value in spec.fixed.items():
        out[name] = torch.full((batch,), float(value), dtype=torch.float32, device=p_norm.device)
    return out


def sample_params(
    spec: GeneratorSpec, batch: int, generator: torch.Generator
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Draw ``batch`` parameter sets uniformly in the spec's sample box
    (:meth:`~proxymat.param_space.ParamSpace.sample_real` of the proxy inputs).

    Discrete parameters are drawn as integers (inclusive bounds); fixed ones are
    pinned. Returns ``(P, real)``: the proxy input normalized over the full
    parameter range, and the real-unit dict for the generator. The sample box
    only narrows where data is drawn; it does not change the normalization.
    """
    inputs = proxy_inputs(spec)
    drawn = ParamSpace.of_generator(spec).sample_real([f"{spec.name}.{p.name}" for p in inputs], batch, generator)
    real = {p.name: drawn[f"{spec.name}.{p.name}"] for p in inputs}
    p_norm = normalize_params(spec, real)
    for name, value in spec.fixed.items():
        real[name] = torch.full((batch,), float(value), dtype=torch.float32)
    return p_norm, real

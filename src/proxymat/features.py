"""Texture descriptor networks and Gram / feature losses.

:class:`TextureFeatures` returns named activations (``relu1_1`` ... ``relu5_1``,
``relu2_2``, ``relu3_2``, ``relu4_2``) of one of three backbones:

* ``vgg19``: the convolutional part of VGG19 with real weights supplied by the
  user, either a path to a torchvision-style state dict (``.pth``, read with
  ``torch.load(weights_only=True)``) or a ``.safetensors`` file, or found in
  torch's hub cache (``<hub>/checkpoints/vgg19-*.pth``). Nothing is ever
  downloaded.
* ``random`` (the offline default): a fixed-seed random multi-scale CNN, a
  VGG-like pyramid of 3x3 convolutions with He-scaled random weights and 2x2
  average pooling between levels. Random convolutional features are known to
  carry enough Gram statistics for texture comparison; no training is needed
  and two instances are always identical.
* ``filters``: a hand-designed, weight-free pyramid of oriented filters
  (:class:`FilterBankFeatures`): Gaussian low-pass and even/odd Gabor pairs at
  4 orientations on luminance / colour-opponent channels, half-wave rectified
  (``reluL_1``) or as local quadrature energy (``reluL_2``), in the tradition
  of Heeger-Bergen / Portilla-Simoncelli steerable-pyramid statistics.

Inputs are images in [0, 1], (B, 1 or 3, H, W); gray inputs are repeated to 3
channels and ImageNet-normalized for every backbone. Convolutions wrap around
(circular padding) because materials tile; this also makes Gram descriptors
invariant to circular shifts by multiples of the network's total stride.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .exact_ops import avg_pool, circular_conv, gram_product
from .feature_layers import ALL_LAYERS, FEATURE_LAYERS, STYLE_LAYERS  # noqa: F401  (re-exported)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's vgg19 ``features``: channels per conv, "M" = max pool (indices follow from this).
_VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip

# Random default: per pyramid level, the convs (out channels) and the layer names of their ReLUs.
_RANDOM_LEVELS: tuple[tuple[tuple[int, str], ...], ...] = (
    ((16, "relu1_1"),),
    ((32, "relu2_1"), (32, "relu2_2")),
    ((64, "relu3_1"), (64, "relu3_2")),
    ((96, "relu4_1"), (96, "relu4_2")),
    ((128, "relu5_1"),),
)
RANDOM_SEED = 20220807
# Total stride of the deepest layer of each backbone (shift invariance holds for multiples of it).
STRIDE = {"vgg19": 16, "random": 16, "filters": 16}


def _vgg19_layer_names() -> dict[int, str]:
    """Index in ``features`` of each ReLU -> ``reluL_K``."""
    names, level, k = {}, 1, 0
    for idx, item in enumerate(_vgg_indices()):
        if item == "M":
            level, k = level + 1, 0
        elif item == "relu":
            k += 1
            names[idx] = f"relu{level}_{k}"
    return names


def _vgg_indices() -> list[str]:
    out: list[str] = []
    for item in _VGG19_CFG:
        out.extend(["M"] if item == "M" else ["conv", "relu"])
    return out


class VGG19Features(nn.Module):
    """VGG19 conv stack with torchvision's ``features.N`` parameter names."""

    def __init__(self, circular: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for item in _VGG19_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                mode = "circular" if circular else "zeros"
                layers += [nn.Conv2d(c_in, int(item), 3, padding=1, padding_mode=mode), nn.ReLU()]
                c_in = int(item)
        self.features = nn.Sequential(*layers)
        self.names = _vgg19_layer_names()

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        for idx, layer in enumerate(self.features):
            x = circular_conv(layer, x) if isinstance(layer, nn.Conv2d) else layer(x)
            name = self.names.get(idx)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


class RandomFeatures(nn.Module):
    """Fixed-seed random multi-scale CNN with VGG-like layer names.

    Weights are He-normal draws from a seeded generator, then each conv is
    rescaled so its pre-activation has unit standard deviation on a fixed
    1/f-noise reference image; so every layer contributes on the same scale
    (without it, activations shrink with depth and deep Grams vanish).
    """

    def __init__(self, seed: int = RANDOM_SEED):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.levels = nn.ModuleList()
        self.level_names: list[list[str]] = []
        c_in = 3
        for level in _RANDOM_LEVELS:
            convs = nn.ModuleList()
            for c_out, _ in level:
                convs.append(_random_conv(c_in, c_out, gen))
                c_in = c_out
            self.levels.append(convs)
            self.level_names.append([name for _, name in level])
        self._calibrate(_pink_noise(gen))

    @torch.no_grad()
    def _calibrate(self, x: torch.Tensor) -> None:
        x = (x - x.mean()) / x.std()
        for k, convs in enumerate(self.levels):
            if k > 0:
                x = F.avg_pool2d(x, 2)
            for conv in convs:
                pre = conv(x)
                conv.weight.div_(pre.std().clamp_min(1e-8))
                x = F.relu(conv(x))

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        for k, (convs, names) in enumerate(zip(self.levels, self.level_names)):
            if k > 0:
                x = avg_pool(x, 2)
            for conv, name in zip(convs, names):
                x = F.relu(circular_conv(conv, x))
                if name in wanted:
                    out[name] = x
            if len(out) == len(wanted):
                break
        return out


def _random_conv(c_in: int, c_out: int, gen: torch.Generator) -> nn.Conv2d:
    """3x3 circular conv without bias, He-normal weights drawn from ``gen``."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="circular", bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(c_out, c_in, 3, 3, generator=gen) * (2.0 / (c_in * 9)) ** 0.5)
    return conv


def _pink_noise(gen: torch.Generator, res: int = 128) -> torch.Tensor:
    """A (1, 3, res, res) tileable 1/f-spectrum noise image (natural-image-like statistics)."""
    fy = torch.fft.fftfreq(res).view(-1, 1)
    fx = torch.fft.rfftfreq(res).view(1, -1)
    amp = 1.0 / (fx.square() + fy.square()).sqrt().clamp_min(1.0 / res)
    amp[0, 0] = 0.0
    spec = torch.complex(torch.randn(3, res, res // 2 + 1, generator=gen), torch.randn(3, res, res // 2 + 1, generator=gen))
    return torch.fft.irfft2(spec * amp, s=(res, res))[None]


# --------------------------------------------------------- fixed filter bank
FILTER_ORIENTATIONS = 4
_GABOR_WAVELENGTH = 3.0  # pixels at each pyramid level (peak 1/3 cycle/px, octave-spaced across levels)
_GABOR_SIGMA = 1.2  # envelope std in pixels (about 1.3 octaves of bandwidth)
_KERNEL_RADIUS = 3  # 7x7 kernels, the envelope is cut at 2.5 sigma
_FILTER_LEVELS = 5
_FILTER_REF_RES = 256  # reference image size: its coarsest level is still 16x16
# Orthonormal luminance / red-green / blue-yellow transform (rows) of RGB.
_OPPONENT = (
    (3**-0.5, 3**-0.5, 3**-0.5),
    (2**-0.5, -(2**-0.5), 0.0),
    (6**-0.5, 6**-0.5, -2 * 6**-0.5),
)  # fmt: skip


def _gabor_bank() -> torch.Tensor:
    """(1 + 2n, 1, k, k) kernels: a Gaussian low-pass, n even (cosine), n odd (sine) Gabors.

    Even Gabors have their DC removed (zero-sum), both phases share the envelope;
    every kernel has unit L2 norm. Orientation ``i`` is ``i * pi / n``.
    """
    r = torch.arange(-_KERNEL_RADIUS, _KERNEL_RADIUS + 1, dtype=torch.float64)
    y, x = torch.meshgrid(r, r, indexing="ij")
    env = torch.exp(-(x.square() + y.square()) / (2 * _GABOR_SIGMA**2))
    even, odd = [], []
    for i in range(FILTER_ORIENTATIONS):
        theta = math.pi * i / FILTER_ORIENTATIONS
        phase = 2 * torch.pi * (x * math.cos(theta) + y * math.sin(theta)) / _GABOR_WAVELENGTH
        cos = env * torch.cos(phase)
        even.append(cos - env * cos.sum() / env.sum())
        odd.append(env * torch.sin(phase))
    bank = torch.stack([env, *even, *odd])
    bank = bank / bank.square().sum(dim=(1, 2), keepdim=True).sqrt()
    return bank[:, None].float()


def _wrap_pad(x: torch.Tensor, r: int) -> torch.Tensor:
    """Circular padding by ``r`` on both spatial axes, valid for maps of any size (even 1x1)."""
    h, w = x.shape[-2:]
    if min(h, w) >= r:
        return F.pad(x, (r, r, r, r), mode="circular")
    rows = torch.arange(-r, h + r, device=x.device) % h
    cols = torch.arange(-r, w + r, device=x.device) % w
    return x.index_select(-2, rows).index_select(-1, cols)


class FilterBankFeatures(nn.Module):
    """Fixed oriented filter-bank pyramid (Heeger-Bergen / Portilla-Simoncelli style), no weights.

    At each of 5 levels (2x2 average pooling between levels) the input is
    rotated to luminance / red-green / blue-yellow opponent channels and each
    is filtered (circularly) with a Gaussian low-pass and even/odd Gabor pairs
    at 4 orientations, giving 3 x 9 = 27 responses. Each (level, kernel)
    response is scaled to unit root-mean-square over a fixed 1/f-noise
    reference image, pooled over the three colour channels (this also evens
    out the gains of the two phases of a pair and of the discretized
    orientations). Layers at level L:

    * ``reluL_1`` (54 ch): ``sqrt(2) * relu(+r)`` and ``sqrt(2) * relu(-r)`` of
      the 27 responses, so Grams see sign / phase structure.
    * ``reluL_2`` (18 ch, L = 2, 3, 4): phase-invariant local energy
      ``sqrt((even^2 + odd^2) / 2)`` per colour and orientation (12 ch), then the
      6 rectified low-pass channels of ``reluL_1``.

    The ``sqrt(2)`` factors give every channel unit RMS on symmetric unit-variance
    responses. Deepest layer stride: 16.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("opponent", torch.tensor(_OPPONENT).view(3, 3, 1, 1), persistent=False)
        self.register_buffer("kernels", _gabor_bank().repeat(3, 1, 1, 1), persistent=False)
        self.register_buffer("scale", torch.ones(_FILTER_LEVELS, 1, self.n_kernels, 1, 1), persistent=False)
        self._calibrate(_pink_noise(torch.Generator().manual_seed(RANDOM_SEED), _FILTER_REF_RES))

    @property
    def n_kernels(self) -> int:
        return 1 + 2 * FILTER_ORIENTATIONS

    @torch.no_grad()
    def _calibrate(self, x: torch.Tensor) -> None:
        x = (x - x.mean()) / x.std()
        for level in range(_FILTER_LEVELS):
            if level > 0:
                x = F.avg_pool2d(x, 2)
            r = self.responses(x, level)
            rms = r.square().mean(dim=(0, 1, 3, 4), keepdim=True).sqrt()
            self.scale[level] = 1.0 / rms[0].clamp_min(1e-8)

    def responses(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Calibrated responses (B, 3 colours, 9 kernels, H, W); kernels: low-pass, 4 even, 4 odd."""
        opp = F.conv2d(x, self.opponent)
        r = F.conv2d(_wrap_pad(opp, _KERNEL_RADIUS), self.kernels, groups=3)
        return r.unflatten(1, (3, self.n_kernels)) * self.scale[level]

    def _layers(self, r: torch.Tensor, level: int, wanted: set[str]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        name1, name2 = f"relu{level + 1}_1", f"relu{level + 1}_2"
        if name1 in wanted:
            out[name1] = torch.cat([F.relu(r), F.relu(-r)], dim=2).flatten(1, 2) * 2**0.5
        if name2 in wanted:
            n = FILTER_ORIENTATIONS
            even, odd, low = r[:, :, 1 : 1 + n], r[:, :, 1 + n :], r[:, :, :1]
            energy = ((even.square() + odd.square()) / 2 + 1e-12).sqrt()
            low = torch.cat([F.relu(low), F.relu(-low)], dim=2) * 2**0.5
            out[name2] = torch.cat([energy.flatten(1, 2), low.flatten(1, 2)], dim=1)
        return out

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        for level in range(_FILTER_LEVELS):
            if len(out) == len(wanted):
                break
            if level > 0:
                x = avg_pool(x, 2)
            if {f"relu{level + 1}_1", f"relu{level + 1}_2"} & wanted:
                out.update(self._layers(self.responses(x, level), level, wanted))
        return out


# ------------------------------------------------------------------ weights I/O
def find_vgg19_weights() -> Path | None:
    """A VGG19 checkpoint in torch's hub cache, if the user has one (never downloads)."""
    hits = sorted(glob.glob(str(Path(torch.hub.get_dir()) / "checkpoints" / "vgg19-*.pth")))
    return Path(hits[0]) if hits else None


def load_vgg19_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the ``features.*`` tensors of a VGG19 state dict (.pth or .safetensors), without pickle."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"VGG19 weights not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any read failure is a bad file for the user
        raise ValueError(f"cannot read VGG19 weights {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not isinstance(state, Mapping):
        raise ValueError(f"VGG19 weights {path}: expected a state dict, got {type(state).__name__}")
    return {k: v for k, v in state.items() if k.startswith("features.")}


# ----------------------------------------------------------------------- module
class TextureFeatures(nn.Module):
    """Named activations of VGG19 (real weights), the built-in random CNN or the fixed filter bank.

    ``weights``: ``"auto"`` (VGG19 from the hub cache if present, else random),
    ``"random"`` (:class:`RandomFeatures`), ``"filters"``
    (:class:`FilterBankFeatures`), or a path to VGG19 weights. The chosen
    backbone's name (``"vgg19"``, ``"random"`` or ``"filters"``) is ``self.backbone``.
    """

    def __init__(self, weights: str | Path | None = "auto"):
        super().__init__()
        self.backbone, self.net = _backbone_from(weights)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def stride(self) -> int:
        return STRIDE[self.backbone]

    def channels(self, layer: str) -> int:
        """Number of feature maps of ``layer``."""
        return int(self.forward(torch.zeros(1, 3, 16, 16, device=self.mean.device), [layer])[layer].shape[1])

    def forward(self, img: torch.Tensor, layers: Iterable[str] = ALL_LAYERS) -> dict[str, torch.Tensor]:
        layers = tuple(layers)
        known = set(_vgg19_layer_names().values()) if self.backbone == "vgg19" else set(ALL_LAYERS)
        unknown = set(layers) - known
        if unknown:
            raise ValueError(f"unknown {self.backbone} feature layer(s) {sorted(unknown)}; known: {sorted(known)}")
        if img.ndim != 4 or img.shape[1] not in (1, 3):
            raise ValueError(f"TextureFeatures: expected (B, 1|3, H, W) images, got {tuple(img.shape)}")
        x = img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img
        x = (x.to(self.mean.dtype) - self.mean) / self.std
        return self.net(x, layers)


def _backbone_from(weights: str | Path | None) -> tuple[str, nn.Module]:
    """(backbone name, network) for ``TextureFeatures(weights)``."""
    if str(weights) == "filters":
        return "filters", FilterBankFeatures()
    if weights is None or str(weights) == "auto":
        path = find_vgg19_weights()
    elif str(weights) == "random":
        path = None
    else:
        path = Path(weights)
    if path is None:
        return "random", RandomFeatures()
    return "vgg19", _vgg_from(path)


def _vgg_from(path: Path) -> VGG19Features:
    net = VGG19Features()
    state = load_vgg19_state(path)
    expected = set(net.state_dict())
    missing = sorted(expected - set(state))
    if missing:
        raise ValueError(f"VGG19 weights {path}: missing {len(missing)} tensors, e.g. {missing[0]} (torchvision vgg19 layout expected)")
    try:
        net.load_state_dict({k: state[k] for k in expected})
    except RuntimeError as exc:
        raise ValueError(f"VGG19 weights {path}: {str(exc).splitlines()[-1].strip()}") from exc
    return net


# ----------------------------------------------------------------------- losses
def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``F F^T / (h w)`` of (B, C, H, W) features -> (B, C, C)."""
    b, c, h, w = feat.shape
    return gram_product(feat.reshape(b, c, h * w)) / (h * w)


def _layer_weights(layers: Sequence[str], weights: Sequence[float] | Mapping[str, float] | None) -> list[float]:
    if weights is None:
        return [1.0 / len(layers)] * len(layers)
    if isinstance(weights, Mapping):
        return [float(weights[name]) for name in layers]
    if len(weights) != len(layers):
        raise ValueError(f"got {len(weights)} layer weights for {len(layers)} layers")
    return [float(w) for w in weights]


def style_loss(
    fa: Mapping[str, torch.Tensor],
    fb: Mapping[str, torch.Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    weights: Sequence[float] | Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Weighted sum over layers of the mean absolute Gram difference (default weights: mean over layers)."""
    ws = _layer_weights(layers, weights)
    return sum(w * (gram(fa[n]) - gram(fb[n])).abs().mean() for n, w in zip(layers, ws))


def feature_loss(
    fa: Mapping[str, torch.Tensor],
    fb: Mapping[str, torch.Tensor],
    layers: Sequence[str] = FEATURE_LAYERS,
    weights: Sequence[float] | Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Weighted sum over layers of the mean absolute feature difference."""
    ws = _layer_weights(layers, weights)
    return sum(w * (fa[n] - fb[n]).abs().mean() for n, w in zip(layers, ws))


def downscale(img: torch.Tensor, scale: float) -> torch.Tensor:
    """Area downscaling by ``scale`` <= 1 (exact average pooling for 1/k)."""
    if scale == 1:
        return img
    k = round(1 / scale)
    if abs(k * scale - 1) < 1e-9 and img.shape[-1] % k == 0 and img.shape[-2] % k == 0:
        return avg_pool(img, k)
    size = (max(1, round(img.shape[-2] * scale)), max(1, round(img.shape[-1] * scale)))
    return F.interpolate(img, size=size, mode="area")


def gram_descriptor(
    img: torch.Tensor,
    features: TextureFeatures | None = None,
    scales: Sequence[float] = (1.0, 0.5, 0.25),
    layers: Sequence[str] = STYLE_LAYERS,
) -> torch.Tensor:
    """Concatenated flattened Grams of ``layers`` at every scale -> (B, D).

    Pass a shared ``features`` instance; building one per call is wasteful.
    """
    features = features or TextureFeatures()
    parts = []
    for s in scales:
        x = downscale(img, s)
        if min(x.shape[-2:]) < features.stride:
            raise ValueError(f"gram_descriptor: image {tuple(img.shape[-2:])} too small for scale {s} (needs >= {features.stride} px)")
        feats = features(x, layers)
        parts += [gram(feats[n]).flatten(1) for n in layers]
    return torch.cat(parts, dim=1)

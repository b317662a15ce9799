"""Texture descriptor network and Gram / feature losses.

:class:`TextureFeatures` returns named activations (``relu1_1`` ... ``relu5_1``,
``relu2_2``, ``relu3_2``, ``relu4_2``) of one of two backbones:

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

Inputs are images in [0, 1], (B, 1 or 3, H, W); gray inputs are repeated to 3
channels and ImageNet-normalized for both backbones. Convolutions wrap around
(circular padding) because materials tile; this also makes Gram descriptors
invariant to circular shifts by multiples of the network's total stride.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FEATURE_LAYERS: tuple[str, ...] = ("relu2_2", "relu3_2", "relu4_2")
ALL_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu4_1", "relu4_2", "relu5_1")

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
STRIDE = {"vgg19": 16, "random": 16}


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
            x = layer(x)
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
                x = F.avg_pool2d(x, 2)
            for conv, name in zip(convs, names):
                x = F.relu(conv(x))
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
    """Named activations of VGG19 (real weights) or of the built-in random CNN.

    ``weights``: ``"auto"`` (VGG19 from the hub cache if present, else random),
    ``"random"``, or a path to VGG19 weights.
    """

    def __init__(self, weights: str | Path | None = "auto"):
        super().__init__()
        path: Path | None
        if weights is None or str(weights) == "auto":
            path = find_vgg19_weights()
        elif str(weights) == "random":
            path = None
        else:
            path = Path(weights)
        if path is None:
            self.backbone, self.net = "random", RandomFeatures()
        else:
            self.backbone, self.net = "vgg19", _vgg_from(path)
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
    f = feat.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


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
        return F.avg_pool2d(img, k)
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

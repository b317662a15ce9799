"""Differentiable flash renderer: SVBRDF maps -> image.

The scene is the one of MATch / DiffMat: the maps cover a square plane of side
``size`` (30 units) centred at the origin in ``z = 0``; the camera and a point
light (the "flash") sit together at ``(0, 0, height)`` (25 units). There is no
projection: every pixel centre is a surface point, and only the per-pixel
direction ``w`` to the camera and the distance ``d`` change. The light has an
inverse-square falloff and, being co-located with the camera, gives ``h = w``.

Maps (all ``(B, C, H, W)``, values in [0, 1], clamped on input):

- ``basecolor``: 3 channels (or 1, broadcast to gray), sRGB-ish encoded;
  linear albedo is ``basecolor ** gamma``;
- ``normal``: 3 channels encoded as ``(n + 1) / 2``, OpenGL convention
  (+X to increasing columns, +Y up towards row 0, +Z out of the surface);
  ``normal_format="dx"`` means the green channel is stored flipped;
- ``roughness``, ``metallic``: 1 channel; ``alpha = roughness ** 2``;
- ``height`` (if present) is ignored: its effect reaches the render through
  the normal map.

Models:

- ``"match"`` (default), MATch's simplified GGX: with ``E = I / d^2 * (n.w)``,
  ``diffuse = E * albedo / pi`` and ``specular = E * D(n.h) * F0 / 4``
  (Fresnel is the constant F0, and G is taken as ``(n.h)^2`` so that it cancels
  the ``4 (n.l)(n.v)`` denominator);
- ``"cook_torrance"``: Lambert diffuse (same term) plus the full microfacet
  specular ``D F G / (4 (n.l)(n.v))`` with Schlick's Fresnel (equal to F0 here
  since ``v.h = 1``) and Smith's G with the Schlick-GGX ``G1`` and
  ``k = alpha / 2``. At normal incidence both models agree exactly.

In both models ``f0 = lerp(settings.f0, albedo, metallic)`` and
``albedo *= 1 - metallic``; the diffuse and specular terms are each clamped to
[0, 1], summed, clamped to [eps, 1] and encoded with ``^(1 / gamma)``.

Normals: MATch decodes ``n = 2 x - 1`` and does not renormalize. Here
``normalize_normals=True`` (the default) renormalizes the decoded vector; it
is the identity for unit normals (as written by a height-to-normal node) and
avoids darkening where blends or 8-bit quantization shorten the vectors. Set it
to False to reproduce MATch exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor

from .exact_ops import normalize_channels

MODELS: tuple[str, ...] = ("match", "cook_torrance")
NORMAL_FORMATS: tuple[str, ...] = ("gl", "dx")
REQUIRED_MAPS: tuple[str, ...] = ("basecolor", "normal", "roughness", "metallic")
_CHANNELS: dict[str, tuple[int, ...]] = {
    "basecolor": (1, 3),
    "normal": (3,),
    "roughness": (1,),
    "metallic": (1,),
}
_MIN_ALPHA = 1e-3  # keeps D_GGX finite for roughness 0
_EPS = 1e-8  # lower clamp of the summed radiance before the gamma encoding


@dataclass(frozen=True)
class RenderSettings:
    """Scene and shading options of :func:`render` (defaults: MATch/DiffMat)."""

    model: str = "match"
    size: float = 30.0
    height: float = 25.0
    intensity: float = 3300.0
    f0: float = 0.04
    gamma: float = 2.2
    normal_format: str = "gl"
    normalize_normals: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown render model {self.model!r}; expected one of {MODELS}")
        if self.normal_format not in NORMAL_FORMATS:
            raise ValueError(
                f"unknown normal_format {self.normal_format!r}; expected one of {NORMAL_FORMATS}"
            )
        for name in ("size", "height", "intensity", "gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"render setting {name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.f0 <= 1.0:
            raise ValueError(f"render setting f0 must lie in [0, 1], got {self.f0}")


def _check_maps(maps: Mapping[str, Tensor]) -> tuple[int, int, int]:
    """Validate the map shapes; return the common (batch, height, width)."""
    missing = [k for k in REQUIRED_MAPS if k not in maps]
    if missing:
        raise ValueError(f"render: missing map(s) {missing}; got keys {sorted(maps)}")
    batches, sizes = set(), set()
    for name in REQUIRED_MAPS:
        t = maps[name]
        if not isinstance(t, Tensor) or t.dim() != 4:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"render: map {name!r} must be a 4-D tensor (B,C,H,W), got {shape}")
        if t.shape[1] not in _CHANNELS[name]:
            raise ValueError(
                f"render: map {name!r} must have {' or '.join(map(str, _CHANNELS[name]))} "
                f"channel(s), got {t.shape[1]}"
            )
        batches.add(t.shape[0])
        sizes.add(tuple(t.shape[2:]))
    if len(sizes) != 1:
        raise ValueError(f"render: maps have different spatial sizes {sorted(sizes)}")
    if len(batches - {1}) > 1:
        raise ValueError(f"render: maps have incompatible batch sizes {sorted(batches)}")
    h, w = sizes.pop()
    if h == 0 or w == 0:
        raise ValueError("render: maps have zero size")
    return max(batches), h, w


def surface_geometry(
    h: int, w: int, settings: RenderSettings, device=None, dtype=torch.float32
) -> tuple[Tensor, Tensor]:
    """Per-pixel unit direction to the camera/light ``(1,3,H,W)`` and ``1/d^2`` ``(1,1,H,W)``.

    Pixels are square; the longer image side spans ``settings.size``.
    """
    step = settings.size / max(h, w)
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5 - w / 2) * step
    ys = (h / 2 - torch.arange(h, device=device, dtype=dtype) - 0.5) * step
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    z = torch.full_like(x, settings.height)
    to_cam = torch.stack([-x, -y, z])[None]
    d2 = (to_cam**2).sum(dim=1, keepdim=True)
    return to_cam / d2.sqrt(), 1.0 / d2


def decode_normal(normal: Tensor, normal_format: str = "gl", normalize: bool = True) -> Tensor:
    """Map an encoded normal map in [0,1] to OpenGL-convention vectors in [-1,1]."""
    if normal_format == "dx":
        normal = torch.cat([normal[:, :1], 1.0 - normal[:, 1:2], normal[:, 2:]], dim=1)
    n = normal * 2.0 - 1.0
    return normalize_channels(n, 1e-6) if normalize else n


def ggx_distribution(n_dot_h: Tensor, alpha: Tensor) -> Tensor:
    """GGX / Trowbridge-Reitz normal distribution ``D(n.h)``."""
    a2 = alpha**2
    return a2 / (math.pi * (n_dot_h**2 * (a2 - 1.0) + 1.0) ** 2)


def _specular_factor(n_dot_w: Tensor, alpha: Tensor, model: str) -> Tensor:
    """``G / (4 (n.l)(n.v))`` times ``n.l`` divided by ``n.l``: the specular scale."""
    if model == "match":
        return torch.full_like(n_dot_w, 0.25)
    k = alpha / 2.0
    # G = G1^2 with G1(x) = x / (x (1-k) + k); G / (4 x^2) simplifies to this:
    return 0.25 / (n_dot_w * (1.0 - k) + k) ** 2


def clamp_unit(t: Tensor) -> Tensor:
    """``t.clamp(0, 1)``: the same values and gradients. A map already within [0, 1] (a graph's maps are)
    is returned as is, which skips the clamp's backward pass (the clamp would return every value unchanged,
    -0.0 included, and pass every gradient)."""
    if t.numel():
        low, high = torch.aminmax(t.detach())
        if bool(low >= 0.0) and bool(high <= 1.0):
            return t
    return t.clamp(0.0, 1.0)


def render(maps: Mapping[str, Tensor], settings: RenderSettings = RenderSettings(),
           geometry: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Render SVBRDF maps under the co-located flash; returns ``(B,3,H,W)`` in [0,1].

    See the module docstring for the model. Differentiable w.r.t. every map. ``geometry``: the
    :func:`surface_geometry` of the maps' size, settings, device and dtype, when the caller keeps it
    (:class:`Renderer`).
    """
    _check_maps(maps)
    basecolor = clamp_unit(maps["basecolor"])
    roughness = clamp_unit(maps["roughness"])
    metallic = clamp_unit(maps["metallic"])
    n = decode_normal(clamp_unit(maps["normal"]), settings.normal_format, settings.normalize_normals)
    h, w = basecolor.shape[-2:]
    omega, inv_d2 = geometry or surface_geometry(h, w, settings, basecolor.device, basecolor.dtype)

    albedo = basecolor.expand(-1, 3, -1, -1) ** settings.gamma
    f0 = settings.f0 + (albedo - settings.f0) * metallic
    albedo = albedo * (1.0 - metallic)

    n_dot_w = (n * omega).sum(dim=1, keepdim=True).clamp_min(0.0)
    irradiance = settings.intensity * inv_d2 * n_dot_w
    alpha = (roughness**2).clamp_min(_MIN_ALPHA)

    diffuse = irradiance * albedo / math.pi
    spec_scale = _specular_factor(n_dot_w, alpha, settings.model)
    specular = irradiance * ggx_distribution(n_dot_w, alpha) * spec_scale * f0
    radiance = diffuse.clamp(0.0, 1.0) + specular.clamp(0.0, 1.0)
    return radiance.clamp(_EPS, 1.0) ** (1.0 / settings.gamma)


class Renderer:
    """:func:`render` with fixed settings that keeps the surface geometry of each image size, device and
    dtype it renders (the same values :func:`render` computes for every call)."""

    def __init__(self, settings: RenderSettings = RenderSettings()):
        self.settings = settings
        self._geometry: dict[tuple[int, int, torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}

    def __call__(self, maps: Mapping[str, Tensor]) -> Tensor:
        b, h, w = _check_maps(maps)
        ref = maps["basecolor"]
        key = (h, w, ref.device, ref.dtype)
        if key not in self._geometry:
            self._geometry[key] = surface_geometry(h, w, self.settings, ref.device, ref.dtype)
        return render(maps, self.settings, self._geometry[key])

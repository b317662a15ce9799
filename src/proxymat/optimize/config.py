"""The optimizer's settings and the ``--quality`` presets: plain data, no torch import.

The command line reads its defaults from here, so they cannot drift from the
library's. The ``loss`` field defaults to the ``default`` loss variant
(:data:`~proxymat.optimize.loss_config.LOSS_PRESETS`) and ``render`` to
``RenderSettings()``, built on first use (the render module imports torch).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..render import RenderSettings
    from .loss import LossConfig


def _loss_config() -> LossConfig:
    from .loss_config import LOSS_PRESETS

    return LOSS_PRESETS["default"]


def _render_settings() -> RenderSettings:
    from ..render import RenderSettings

    return RenderSettings()


GRADIENTS: tuple[str, ...] = ("proxy", "direct", "auto", "straight", "straight+direct")
"""How Stage II moves generator parameters (``OptimizeConfig.gradients``): through their proxies ("proxy"), by
autograd through the real generator where it declares direct parameters ("direct"), through a proxy where one
fits and by autograd through the real generator for the other nodes with direct parameters ("auto"), or through
the proxies' gradients with the real generators' output in the forward pass ("straight": the stage then descends
the real loss along the proxy's slope, so a proxy's other layout or blur no longer shifts what it optimizes),
or "straight" where a proxy fits and by autograd through the real generator for the other nodes with direct
parameters ("straight+direct", the default: no generator node is left to the random search alone; the
recovery benchmark's comparison is in docs/RESULTS.md, "Direct gradients")."""
STRAIGHT_THROUGH: frozenset[str] = frozenset({"straight", "straight+direct"})
"""GRADIENTS whose proxy nodes draw the real generator's output forward and carry the proxy's gradient back."""
DIRECT_WHERE_NO_PROXY: frozenset[str] = frozenset({"auto", "straight+direct"})
"""GRADIENTS that move by direct gradients only the nodes no proxy fits ("direct" moves all declared ones)."""
MOVES_DIRECT: frozenset[str] = DIRECT_WHERE_NO_PROXY | {"direct"}
"""GRADIENTS under which some nodes' declared direct parameters move by autograd through the real generator."""


@dataclass(frozen=True)
class OptimizeConfig:
    """Settings of one optimization run (Stages I-III, sweep, search, polish); see :mod:`.stages`."""

    res: int = 256
    iters1: int = 200
    lr1: float = 0.02
    samples: int = 64
    iters2: int = 200
    lr2: float = 0.02
    iters3: int = 150
    lr3: float = 0.005
    stage1: bool = True
    stage2: bool = True
    random_search: bool = True
    stage3: bool = True
    search_batch: int = 8
    rescore: int = 8
    local_fraction: float = 0.5
    local_radius: float = 0.1
    polish: int = 256
    polish_prob: float = 0.15
    polish_radius: float = 0.1
    polish_filters: bool = False
    polish_grow: float = 1.5
    polish_layouts: int = 1  # layouts whose mean loss the polish compares (1: the graph's own only)
    stage2_check: int = 10
    stage2_patience: int = 10
    sweep_iters: int = 25
    sweep_max: int = 12
    sweep_rounds: int = 2
    sweep_proxy_margin: float = 0.02
    sweep_noise: int = 2  # other layout seeds whose loss spread a category change must beat (0: off)
    sweep_counts: int = 0  # the sweep also tries each count at +-1, 2, ..., 2^(N-1) (0: categories only)
    count_search: int = 4  # after Stage I, re-fit the N count combinations whose spectra match best (0: off)
    search_refit: int = 16
    search_refit_iters: int = 10
    search_layouts: int = 1  # layouts whose mean loss picks the search's re-fit candidate (1: the graph's own only)
    gradients: str = "straight+direct"  # Stage II's generator gradients: one of GRADIENTS
    seed: int = 0
    frame_every: int = 10
    loss: LossConfig = field(default_factory=_loss_config)
    render: RenderSettings = field(default_factory=_render_settings)

    def result_settings(self) -> dict[str, Any]:
        """Every setting that changes results (all but ``frame_every``), as a dict: part of a run's identity."""
        d = asdict(self)
        d.pop("frame_every")
        return d


def config_default(name: str) -> Any:
    """The default of the :class:`OptimizeConfig` field ``name`` (a plain value; not ``loss`` or ``render``)."""
    for f in fields(OptimizeConfig):
        if f.name == name:
            if f.default is MISSING:
                raise ValueError(f"OptimizeConfig.{name} has no plain default")
            return f.default
    raise KeyError(f"OptimizeConfig has no field {name!r}")


QUALITY: dict[str, dict[str, Any]] = {
    "fast": {"iters1": 100, "iters2": 100, "iters3": 75, "samples": 32, "rescore": 4, "polish": 64, "sweep_iters": 10,
             "search_refit": 4},
    "default": {},
    "best": {"iters1": 400, "iters2": 400, "iters3": 300, "samples": 256, "rescore": 16, "polish": 1024,
             "stage2_patience": 20, "search_refit": 32},
}
"""``optimize --quality``: the settings each preset changes from the defaults (``default`` changes none).

``fast`` is a quick look (half the Adam iterations, a quarter of the search and
polish renders); ``best`` spends about four times the default's renders on the
search and polish and twice its Adam iterations. All three fit at 256 px: a graph
fit at 128 px matches its target worse once rendered at 256 px (leather: loss 0.082
at 256 px against 0.012 for the same preset fit at 256 px).
"""


PRESET_FIELDS = ("res", "iters1", "iters2", "iters3", "samples", "rescore", "polish", "stage2_patience", "sweep_iters",
                 "search_refit")
"""The fields a :data:`QUALITY` preset may set."""


def quality_settings(quality: str) -> dict[str, Any]:
    """Every field of :data:`PRESET_FIELDS` with the value ``quality`` gives it (the default where it sets none)."""
    if quality not in QUALITY:
        raise ValueError(f"unknown quality {quality!r} (known: {', '.join(QUALITY)})")
    return {name: QUALITY[quality].get(name, config_default(name)) for name in PRESET_FIELDS}

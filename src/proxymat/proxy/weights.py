"""Trained proxy files: fp16 safetensors with JSON metadata (never pickle).

A proxy file holds the :class:`ProxyNet` state dict in float16 and these
string metadata entries:

* ``format``: ``"proxymat-proxy"``, ``format_version``: ``"1"``;
* ``generator``: the generator name;
* ``params``: JSON list of the proxy inputs ``{name, kind, low, high}`` in order;
* ``fixed``: JSON dict of the parameters pinned during training;
* ``model_config``: JSON of :class:`ProxyConfig`;
* ``metrics`` and ``training``: JSON dicts (fidelity numbers, training info).

Names without a path resolve to ``proxymat/weights/<name>.safetensors``.
"""

from __future__ import annotations

from dataclasses import replace

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..atomic import atomic_target
from ..io import resize_square
from ..nodes.generators.base import GeneratorSpec
from .model import ProxyConfig, ProxyNet, build_proxy, proxy_inputs

FORMAT = "proxymat-proxy"
FORMAT_VERSION = "1"


class ProxyWeightsError(ValueError):
    """A proxy weight file is missing, unreadable or does not fit the generator."""


def atomic_save_safetensors(path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> None:
    """Write a safetensors file through a temp file in the same folder + ``os.replace``."""
    from safetensors.torch import save_file

    data = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_target(path) as tmp:
        mode = tmp.stat().st_mode & 0o777  # the usual 0666 minus the umask
        save_file(data, str(tmp), metadata=dict(metadata))
        os.chmod(tmp, mode)  # safetensors re-creates the file as 0600


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; :class:`ProxyWeightsError` on any failure."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ProxyWeightsError(f"proxy weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - report any parse error as a bad file
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise ProxyWeightsError(f"cannot read proxy weights {path}: {msg}") from exc
    return tensors, meta


def param_table(spec: GeneratorSpec) -> list[dict[str, Any]]:
    """JSON description of the proxy inputs of ``spec``."""
    return [{"name": p.name, "kind": p.kind, "low": p.low, "high": p.high} for p in proxy_inputs(spec)]


def save_proxy(
    path: str | Path,
    model: ProxyNet,
    spec: GeneratorSpec,
    config: ProxyConfig | None = None,
    metrics: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as an fp16 proxy file for ``spec``; returns the path."""
    config = config or model.config
    if config.n_params != len(proxy_inputs(spec)):
        raise ValueError(f"save_proxy: model takes {config.n_params} params, generator {spec.name!r} has {len(proxy_inputs(spec))}")
    tensors = {k: v.to(torch.float16) for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": spec.name,
        "params": json.dumps(param_table(spec)),
        "fixed": json.dumps({k: float(v) for k, v in spec.fixed.items()}),
        "model_config": json.dumps(config.to_dict()),
        "metrics": json.dumps(dict(metrics or {})),
        "training": json.dumps(dict(training or {})),
    }
    atomic_save_safetensors(path, tensors, meta)
    return Path(path)


VARIANT_SEP = "@"
"""Separates a generator's name from a variant tag in a proxy's name: ``cells@f1`` is a second proxy of
``cells``, trained with other pinned parameters (``proxy train cells --pin style=f1``)."""


def proxy_generator(name: str) -> str:
    """The generator a proxy name serves: ``cells@f1`` -> ``cells``, ``cells`` -> ``cells``."""
    return name.split(VARIANT_SEP, 1)[0]


def resolve_weights(path_or_name: str | Path) -> Path:
    """A file path, or a bare name looked up in the packaged ``proxymat/weights`` folder."""
    p = Path(path_or_name)
    if p.suffix == ".safetensors" or p.is_file() or len(p.parts) > 1:
        return p
    return Path(str(resources.files("proxymat").joinpath("weights", f"{p.name}.safetensors")))


def shipped_proxy_names() -> list[str]:
    """Names of the proxies shipped in the package (``weights/NAME.safetensors``), sorted."""
    folder = resources.files("proxymat").joinpath("weights")
    return sorted(e.name[: -len(".safetensors")] for e in folder.iterdir() if e.name.endswith(".safetensors"))


def below_flat_floor(metrics: Mapping[str, Any]) -> bool:
    """True when recorded held-out fidelity (``proxy eval --record``) is no better than a flat image
    on L1 and SSIM alike, i.e. the proxy draws no usable structure; False when unmeasured."""
    if not all(isinstance(metrics.get(k), (int, float)) for k in ("l1", "flat_l1", "ssim", "flat_ssim")):
        return False
    return metrics["l1"] >= metrics["flat_l1"] and metrics["ssim"] <= metrics["flat_ssim"]


class Proxy(nn.Module):
    """A loaded proxy: normalized params (B, n) -> map (B, 1, res, res) in [0, 1]."""

    def __init__(self, net: ProxyNet, meta: Mapping[str, Any]):
        super().__init__()
        self.net = net
        self.spec_name: str = meta["generator"]
        self.param_table: list[dict[str, Any]] = list(meta["params"])
        self.param_names: tuple[str, ...] = tuple(p["name"] for p in self.param_table)
        self.fixed: dict[str, float] = dict(meta.get("fixed", {}))
        self.metrics: dict[str, Any] = dict(meta.get("metrics", {}))
        self.training_info: dict[str, Any] = dict(meta.get("training", {}))
        self.net.requires_grad_(False)
        self.eval()

    def below_flat_floor(self) -> bool:
        """True when the recorded held-out fidelity is no better than a flat image (see ``below_flat_floor``)."""
        return below_flat_floor(self.metrics)

    @property
    def res(self) -> int:
        return self.net.config.res

    @property
    def config(self) -> ProxyConfig:
        return self.net.config

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.net(p)

    def at_res(self, p: torch.Tensor, res: int) -> torch.Tensor:
        """Output resized to ``res`` (bilinear up, area down)."""
        return resize_square(self.net(p), res)

    def normalize(self, real: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Real-unit params {name: (B,)} -> normalized P (B, n)."""
        cols = []
        for row in self.param_table:
            v = torch.as_tensor(real[row["name"]], dtype=torch.float32).reshape(-1)
            span = row["high"] - row["low"]
            cols.append(torch.zeros_like(v) if span == 0 else (v - row["low"]) / span)
        return torch.stack(cols, dim=1)


def record_metrics(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Merge ``metrics`` into a proxy file's ``metrics`` metadata (the weights stay as they are)."""
    path = Path(path)
    tensors, raw = read_safetensors(path)
    if raw.get("format") != FORMAT:
        raise ProxyWeightsError(f"{path}: not a proxymat proxy file (format={raw.get('format')!r})")
    merged = {**json.loads(raw.get("metrics", "{}")), **dict(metrics)}
    atomic_save_safetensors(path, tensors, {**raw, "metrics": json.dumps(merged)})
    return path


def param_signature(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float]]:
    """(name, low, high) of each parameter-table row: what a proxy file and a generator must agree on."""
    return [(r["name"], float(r["low"]), float(r["high"])) for r in rows]


def check_matches(meta: Mapping[str, Any], spec: GeneratorSpec, where: str) -> None:
    """Raise :class:`ProxyWeightsError` if a proxy's metadata does not fit ``spec``: the same generator, and as
    inputs the parameters the proxy's own ``fixed`` leaves free (a proxy trained with ``--unpin`` takes them
    all; the optimizer then uses it only where the node's values equal what it pins)."""
    if meta["generator"] != spec.name:
        raise ProxyWeightsError(f"{where}: proxy is for generator {meta['generator']!r}, not {spec.name!r}")
    unknown = sorted(set(meta.get("fixed", {})) - {p.name for p in spec.params})
    if unknown:
        raise ProxyWeightsError(f"{where}: proxy pins parameter(s) {unknown} that generator {spec.name!r} does not have")
    pinned = replace(spec, fixed=dict(meta.get("fixed", {})))
    want, got = param_signature(param_table(pinned)), param_signature(meta["params"])
    if want != got:
        raise ProxyWeightsError(f"{where}: proxy parameters {got} differ from generator {spec.name!r} parameters {want}")


def _check_meta(meta: Mapping[str, Any]) -> None:
    """Raise ValueError unless the parsed metadata has the documented shapes."""
    for key in ("model_config", "fixed", "metrics", "training"):
        if not isinstance(meta[key], dict):
            raise ValueError(f"{key!r} must be a JSON object")
    rows = meta["params"]
    if not isinstance(rows, list) or not all(_is_param_row(r) for r in rows):
        raise ValueError("'params' must be a list of {name, kind, low, high} objects")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in meta["fixed"].values()):
        raise ValueError("'fixed' values must be numbers")


def _is_param_row(row: Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("name"), str)
            and all(isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool) for k in ("low", "high")))


def load_proxy(path_or_name: str | Path, device: str | torch.device = "cpu", spec: GeneratorSpec | None = None) -> Proxy:
    """Load a proxy file (float32 on ``device``); checked against ``spec`` when given, and refused when a
    weight is NaN or infinite."""
    path = resolve_weights(path_or_name)
    tensors, raw = read_safetensors(path)
    if raw.get("format") != FORMAT:
        raise ProxyWeightsError(f"{path}: not a proxymat proxy file (format={raw.get('format')!r})")
    try:
        meta = {k: raw[k] if k == "generator" else json.loads(raw[k]) for k in ("generator", "params", "model_config")}
        meta.update({k: json.loads(raw.get(k, "{}")) for k in ("fixed", "metrics", "training")})
        _check_meta(meta)
        config = ProxyConfig.from_dict(meta["model_config"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ProxyWeightsError(f"{path}: bad proxy metadata: {exc}".splitlines()[0]) from exc
    if spec is not None:
        check_matches(meta, spec, str(path))
    bad = sorted(k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise ProxyWeightsError(f"{path}: weights hold NaN or infinite values (in {bad[0]}{more}); the file is damaged "
                                f"or its training diverged")
    net = build_proxy(config)
    try:
        net.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ProxyWeightsError(f"{path}: weights do not fit the model config: {detail}") from exc
    return Proxy(net, meta).to(device)

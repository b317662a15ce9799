"""Differentiable proxies of black-box generators: model, training, weight files, fidelity metrics."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Names re-exported from the submodules, imported on first use (so building the CLI parser needs no torch).
_SOURCES = {
    "model": ("ProxyConfig", "ProxyNet", "build_proxy", "count_params", "denormalize_params", "normalize_params",
              "proxy_inputs", "sample_params"),
    "train": ("TrainResult", "measure_throughput", "train_proxy"),
    "train_config": ("TrainConfig",),
    "weights": ("Proxy", "ProxyWeightsError", "load_proxy", "save_proxy"),
}
_WHERE = {name: module for module, names in _SOURCES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)


__all__ = sorted(_WHERE)

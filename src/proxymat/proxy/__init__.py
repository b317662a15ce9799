"""Differentiable proxies of black-box generators: model, training, weight files, fidelity metrics."""

from __future__ import annotations

from .model import (
    ProxyConfig,
    ProxyNet,
    build_proxy,
    count_params,
    denormalize_params,
    normalize_params,
    proxy_inputs,
    sample_params,
)
from .train import TrainConfig, TrainResult, measure_throughput, train_proxy
from .weights import Proxy, ProxyWeightsError, load_proxy, save_proxy

__all__ = [
    "Proxy",
    "ProxyConfig",
    "ProxyNet",
    "ProxyWeightsError",
    "TrainConfig",
    "TrainResult",
    "build_proxy",
    "count_params",
    "denormalize_params",
    "load_proxy",
    "measure_throughput",
    "normalize_params",
    "proxy_inputs",
    "sample_params",
    "save_proxy",
    "train_proxy",
]

"""proxymat: inverse procedural material modeling with differentiable proxies."""

__version__ = "0.1.0"

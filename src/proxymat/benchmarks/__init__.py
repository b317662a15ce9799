"""Benchmarks (speed, E1-E4, parameter recovery) and their baselines; the core never imports this package."""

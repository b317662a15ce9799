"""Node library: differentiable filters and non-differentiable generators."""

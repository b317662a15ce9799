"""Which exceptions the CLI reports as one-line errors (everything else is a bug)."""

from __future__ import annotations


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input or environment, not a bug."""
    from .cli import CliError
    from .graph import GraphError
    from .io import ImageError
    from .params import ParamError

    found: list[type[BaseException]] = [CliError, GraphError, ImageError, ParamError, OSError, MemoryError]
    try:
        from .proxy.weights import ProxyWeightsError

        found.append(ProxyWeightsError)
    except ImportError:
        pass
    return tuple(found)

"""Sub-commands that live in their own modules: each registrar adds one to the parser."""

from __future__ import annotations

from typing import Any, Callable


def register_bench(sub: Any) -> None:
    from .bench_command import register_bench as register

    register(sub)


def register_optimize(sub: Any) -> None:
    from .optimize.command import register_optimize as register

    register(sub)


def register_proxy(sub: Any) -> None:
    from .proxy.command import register_proxy as register

    register(sub)


def register_export(sub: Any) -> None:
    from .export_command import register_export as register

    register(sub)


REGISTRARS: tuple[Callable[[Any], None], ...] = (register_optimize, register_proxy, register_export, register_bench)

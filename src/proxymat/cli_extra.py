"""Sub-commands that live in their own modules: each registrar adds one to the parser."""

from __future__ import annotations

from typing import Any, Callable

REGISTRARS: tuple[Callable[[Any], None], ...] = ()

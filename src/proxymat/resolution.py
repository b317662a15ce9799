"""Which map resolutions each part of proxymat accepts, in one place.

One rule: a resolution is an integer number of pixels per side in ``lo..hi``;
a rule may also ask for a power of two. The named rules are specialisations:

* ``GRAPH_RES`` (1..8192): what a graph document and ``Graph.evaluate`` accept.
* ``MAP_RES`` (8..4096): the ``--res`` of the commands that write maps
  (render, export, gallery, bench).
* ``OPTIMIZE_RES`` (powers of two, 64..512): ``optimize --res``; the loss's
  pyramid and the shipped proxies' sizes are powers of two.
* ``PROXY_RES`` (powers of two, 4..8192): a proxy network doubles its size at
  each level from a 4x4 constant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResolutionRule:
    """Integers in ``lo..hi`` (both included), powers of two only when ``power_of_two``."""

    lo: int
    hi: int
    power_of_two: bool = False

    def problem(self, res: int) -> str | None:
        """None when ``res`` is accepted, else a one-line reason ``resolution must be ..., got N``."""
        if self.accepts(res):
            return None
        what = "a power of two " if self.power_of_two else ""
        return f"resolution must be {what}between {self.lo} and {self.hi}, got {res}"

    def accepts(self, res: int) -> bool:
        """Whether ``res`` (an int, not a bool) follows this rule."""
        if isinstance(res, bool) or not isinstance(res, int) or not self.lo <= res <= self.hi:
            return False
        return not self.power_of_two or res & (res - 1) == 0

    def choices(self) -> tuple[int, ...]:
        """Every accepted resolution, ascending (for power-of-two rules, whose lists are short)."""
        if not self.power_of_two:
            raise ValueError("choices() lists power-of-two rules only")
        return tuple(1 << k for k in range(self.hi.bit_length()) if self.lo <= 1 << k <= self.hi)


GRAPH_RES = ResolutionRule(1, 8192)
MAP_RES = ResolutionRule(8, 4096)
OPTIMIZE_RES = ResolutionRule(64, 512, power_of_two=True)
PROXY_RES = ResolutionRule(4, 8192, power_of_two=True)

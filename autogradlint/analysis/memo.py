"""Facts computed on demand that may ask for each other in a cycle, cached so that a fact's value does not
depend on which question came first.

A fact asked for while it is being computed (a function that calls itself; a caller whose argument depends
on what its callee returns) gives a stand-in, unknown. Every fact computed on top of it used a partial answer:
it is kept only while the facts it leant on are still being computed (so that the computation under way
does not redo it), then dropped, and computed again when next asked, from facts that are final. Only values
that leant on no fact in progress are cached for good. Without this, a value computed inside a cycle was
cached with the stand-in's partial answer, and which rule asked first (``--select``) changed findings.
"""
from __future__ import annotations

from typing import Callable, Dict, Hashable, List, Optional, Tuple


class Memo:
    """The stack of facts being computed, and the values that leant on one of them."""

    __slots__ = ("_depths", "_low", "_high", "_provisional")

    def __init__(self) -> None:
        self._depths: Dict[Tuple[str, Hashable], int] = {}  # (kind, key) of a fact in progress -> its depth
        # per frame: the lowest and the highest depth below it of a fact in progress its value leant on
        # (its own depth / -1: none)
        self._low: List[int] = []
        self._high: List[int] = []
        # values that leant on a fact in progress: (kind, key) -> (low, high, value), valid while the frames
        # up to ``high`` are on the stack
        self._provisional: Dict[Tuple[str, Hashable], Tuple[int, int, object]] = {}

    def depth(self, kind: str, key: Hashable) -> Optional[int]:
        """The depth of a fact in progress (None: not being computed)."""
        return self._depths.get((kind, key))

    def computed(self, kind: str, key: Hashable, cache: dict, compute: Callable[[], object], in_progress: object,
                 depends_on: Optional[int] = None):
        """``cache[key]``, computed by ``compute()`` when missing; ``in_progress`` when it is being computed.
        ``depends_on``: the depth of a fact in progress this value leans on whatever it computes (then it is
        never cached for good)."""
        if key in cache:
            return cache[key]
        full = (kind, key)
        depth = self._depths.get(full)
        if depth is not None:
            self._leans_on(depth, depth)
            return in_progress
        provisional = self._provisional.get(full)
        if provisional is not None:
            self._leans_on(provisional[0], provisional[1])
            return provisional[2]
        depth = len(self._low)
        self._depths[full] = depth
        self._low.append(depth if depends_on is None else depends_on)
        self._high.append(-1 if depends_on is None else depends_on)
        try:
            value = compute()
        finally:
            low = self._low.pop()
            high = self._high.pop()
            del self._depths[full]
            if self._provisional:
                for stale in [k for k, v in self._provisional.items() if v[1] >= depth]:
                    del self._provisional[stale]
        if low >= depth:
            cache[key] = value
        else:
            self._provisional[full] = (low, high, value)
            self._leans_on(low, high)
        return value

    def _leans_on(self, low: int, high: int) -> None:
        """The frames above depth ``low`` used a value that leans on the facts in progress at depths ``low``
        to ``high``."""
        for frame in range(low + 1, len(self._low)):
            if self._low[frame] > low:
                self._low[frame] = low
            below = min(high, frame - 1)
            if self._high[frame] < below:
                self._high[frame] = below

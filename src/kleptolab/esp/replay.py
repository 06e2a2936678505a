"""Anti-replay window of RFC 4303 §3.4.3 and Appendix A (32-bit sequence numbers).

Sans-I/O: :meth:`ReplayWindow.check` runs before the ICV is verified and
:meth:`ReplayWindow.accept` only after, so forged packets cannot move the window.
"""

from __future__ import annotations

from kleptolab.esp.errors import ReplayedPacket


class ReplayWindow:
    """A sliding bitmap of ``size`` sequence numbers ending at the highest one accepted."""

    def __init__(self, size: int = 64) -> None:
        if size < 1:
            raise ValueError(f"replay window size must be at least 1, got {size}")
        self.size = size
        self.top = 0  # highest sequence number accepted so far
        self._bits = 0  # bit i set: top - i was accepted

    def check(self, seq: int) -> None:
        """Raise :class:`ReplayedPacket` unless ``seq`` may be new."""
        if seq == 0:
            raise ReplayedPacket(seq, "0 is never sent (the first packet is 1)")
        if seq > self.top:
            return
        offset = self.top - seq
        if offset >= self.size:
            raise ReplayedPacket(
                seq, f"left of the window (highest seen {self.top}, window {self.size})"
            )
        if self._bits >> offset & 1:
            raise ReplayedPacket(seq, "duplicate")

    def accept(self, seq: int) -> None:
        """Record ``seq`` as received (call after :meth:`check` and a good ICV)."""
        self.check(seq)
        if seq > self.top:
            shift = seq - self.top
            mask = (1 << self.size) - 1
            self._bits = ((self._bits << shift) | 1) & mask if shift < self.size else 1
            self.top = seq
        else:
            self._bits |= 1 << (self.top - seq)

    def seen(self, seq: int) -> bool:
        """Whether ``seq`` is inside the window and was accepted."""
        offset = self.top - seq
        return 0 <= offset < self.size and bool(self._bits >> offset & 1)

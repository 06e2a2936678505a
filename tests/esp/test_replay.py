"""Anti-replay window (RFC 4303 §3.4.3): fixed cases and a model-based property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.esp.errors import ReplayedPacket
from kleptolab.esp.replay import ReplayWindow


def test_in_order_duplicates_and_window_edge() -> None:
    w = ReplayWindow(64)
    for seq in range(1, 101):
        w.accept(seq)
    with pytest.raises(ReplayedPacket, match="sequence number 100 rejected: duplicate"):
        w.check(100)
    w.check(101)
    with pytest.raises(ReplayedPacket, match="duplicate"):
        w.check(37)  # the oldest seq still inside the window
    with pytest.raises(ReplayedPacket, match=r"left of the window \(highest seen 100, window 64\)"):
        w.check(36)
    with pytest.raises(ReplayedPacket, match="0 is never sent"):
        w.check(0)


def test_late_packets_inside_window_are_accepted_once() -> None:
    w = ReplayWindow(32)
    w.accept(40)
    w.accept(10)  # 30 behind: inside a 32-wide window
    assert w.seen(10) and not w.seen(11)
    with pytest.raises(ReplayedPacket):
        w.accept(10)
    w.accept(200)  # a jump wider than the window clears it
    assert not w.seen(40) and w.seen(200)
    with pytest.raises(ReplayedPacket, match="left of the window"):
        w.check(168)
    w.check(169)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReplayWindow(0)


@given(st.integers(1, 130), st.lists(st.integers(0, 400), max_size=300))
def test_matches_a_set_model(size: int, seqs: list[int]) -> None:
    w = ReplayWindow(size)
    seen: set[int] = set()
    for seq in seqs:
        top = max(seen, default=0)
        ok = seq > 0 and seq not in seen and seq > top - size
        if ok:
            w.accept(seq)
            seen.add(seq)
        else:
            with pytest.raises(ReplayedPacket):
                w.check(seq)
        assert w.top == max(seen, default=0)

"""The SQLite state store and the forward window: positions, concurrency, no trapdoor, bounded walks."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from kleptolab.attack.forward import ForwardWindow
from kleptolab.attack.prng_walk import _walk
from kleptolab.attack.store import KnownState, StateRecord, StateStore

from .synth import lab_trapdoor

TRAPDOOR = lab_trapdoor()


def test_records_positions_epochs_and_latest(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    new = store.record(
        [
            StateRecord(b"a" * 32, 11, "gw:500", -1, 0, "sweep", "c1"),
            StateRecord(b"a" * 32, 12, "gw:500", -1, 0, "sweep", "c1"),
            StateRecord(b"b" * 32, 13, "gw:500", -1, 7, "predicted", "c1"),
            StateRecord(b"c" * 32, 14, "other:500", -2, 0, "sweep", "c2"),
        ]
    )
    assert set(new) == {-1, -2} and new[-1] != new[-2]
    assert store.get(b"a" * 32) == [11, 12] and b"b" * 32 in store and len(store) == 3
    assert store.latest("gw:500") == [KnownState(b"b" * 32, 13, new[-1], 7)]
    assert store.positioned(b"a" * 32) == [KnownState(b"a" * 32, s, new[-1], 0) for s in (11, 12)]
    assert store.gateways() == {"gw:500": 3, "other:500": 1}
    store.put(b"d" * 32, [5])  # no gateway: found by nonce only
    assert store.get(b"d" * 32) == [5] and store.positioned(b"d" * 32) == []
    store.close()
    again = StateStore(tmp_path / "s.db")  # persisted
    assert again.latest("gw:500")[0].state == 13 and len(again) == 4


def test_a_later_record_fills_a_missing_position_but_keeps_a_known_one(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.put(b"n" * 32, [1])
    (e,) = store.record([StateRecord(b"n" * 32, 1, "gw", -1, 3)]).values()
    store.record([StateRecord(b"n" * 32, 1, "gw", e, 99)])
    assert store.positioned(b"n" * 32) == [KnownState(b"n" * 32, 1, e, 3)]


def test_the_trapdoor_is_never_stored(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.record([StateRecord(bytes(range(32)), 1234, "gw", -1, 0)])
    store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (TRAPDOOR.d, TRAPDOOR.e):
        assert secret.to_bytes(32, "big") not in blob and f"{secret:x}".encode() not in blob


def test_not_a_store_is_a_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "cache.json"
    bad.write_text('{"states": {}}')
    with pytest.raises(ValueError, match=r"state store .* unreadable"):
        StateStore(bad)


def _writer(path: str, k: int) -> None:
    store = StateStore(Path(path))
    for i in range(50):
        store.record([StateRecord(bytes([k, i]) * 16, i, f"gw{k}", -1, i)])
        assert store.get(bytes([k, i]) * 16) == [i]
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    StateStore(path).close()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_writer, args=(str(path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = StateStore(path)
    assert len(store) == 150 and store.gateways() == {"gw0": 50, "gw1": 50, "gw2": 50}


def test_forward_window_finds_a_later_output_and_is_bounded() -> None:
    start_state, nonce = 0xABCDEF, bytes(32)
    outputs, states = _walk(start_state, TRAPDOOR.q, 150, nonce)
    window = ForwardWindow(TRAPDOOR.q, window=100)
    window.add(KnownState(nonce, start_state, 7, 40))
    start, offset, state, later, later_states = window.find(outputs[89]) or (None, 0, 0, [], [])
    assert start == KnownState(nonce, start_state, 7, 40) and offset == 90 and state == states[89]
    assert later == outputs[90:100] and later_states == states[90:100]
    assert window.find(outputs[120]) is None  # beyond the window: a sweep's job
    assert window.calls == 100  # walked once, never more than the window
    window.find(outputs[5])
    assert window.calls == 100

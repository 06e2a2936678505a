"""EspSa.unprotect_batch: per packet the same payload or the same error as unprotect."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.errors import EspError
from kleptolab.esp.sa import EspSa
from tests.esp.test_sa import CIPHERS, INTEGS, make_pair


def _same(batch: list[object], single: list[object]) -> None:
    assert len(batch) == len(single)
    for got, want in zip(batch, single, strict=True):
        if isinstance(want, EspError):
            assert type(got) is type(want) and str(got) == str(want)
        else:
            assert got == want


def _single(sa: EspSa, packets: list[bytes]) -> list[object]:
    out: list[object] = []
    for p in packets:
        try:
            out.append(sa.unprotect(p))
        except EspError as exc:
            out.append(exc)
    return out


@pytest.mark.parametrize(("encr", "key_size"), CIPHERS)
@pytest.mark.parametrize("integ", INTEGS)
def test_batch_equals_single(encr: Encr, key_size: int, integ: Integ | None) -> None:
    out, _ = make_pair(encr, key_size, integ)
    packets = [out.encapsulate(bytes([i]) * (20 + 37 * i)) for i in range(12)]
    tampered = bytearray(packets[3])
    tampered[-1] ^= 1
    packets[3] = bytes(tampered)  # bad ICV (or, without integrity, bad padding or garbage)
    packets.insert(5, packets[5][:9])  # truncated
    packets.insert(7, b"\x99\x99\x99\x99" + packets[7][4:])  # another SPI
    _, batch_sa = make_pair(encr, key_size, integ, window=None)
    _, single_sa = make_pair(encr, key_size, integ, window=None)
    _same(batch_sa.unprotect_batch(packets), _single(single_sa, packets))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=20), st.data())
def test_batch_equals_single_with_replay_window(payloads: list[bytes], data: st.DataObject) -> None:
    out, _ = make_pair()
    packets = [out.encapsulate(p) for p in payloads]
    packets += data.draw(st.lists(st.sampled_from(packets), max_size=5))  # replays
    _, batch_sa = make_pair()
    _, single_sa = make_pair()
    _same(batch_sa.unprotect_batch(packets), _single(single_sa, packets))


def test_empty_batch() -> None:
    assert make_pair()[1].unprotect_batch([]) == []

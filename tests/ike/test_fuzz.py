"""Bounded fuzzing of the IKE parsers through kleptolab.ike.fuzz.fuzz_one."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kleptolab.ike.fuzz import fuzz_one, targets
from tests.conftest import CAPTURES
from tests.ike.v1.capture_util import ike_datagrams

BUDGET_S = 8.0


def _corpus() -> list[bytes]:
    out: list[bytes] = []
    for case in sorted((CAPTURES / "strongswan-5.9.8").glob("ikev*")):
        out += [d.data for d in ike_datagrams(case / f"{case.name}.pcap")]
    out += [d.data for d in ike_datagrams(CAPTURES / "wireshark-4.0.17" / "ikev1-certs.pcap")]
    return out


CORPUS = _corpus()


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] = rng.randrange(256)
        elif op == 1:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif buf:  # length fields are where parsers break: poke a big-endian word
            buf[pos : pos + 2] = rng.choice([b"\x00\x00", b"\xff\xff", b"\x00\x04", b"\x80\x00"])
    return bytes(buf)


def test_targets_cover_both_versions() -> None:
    names = {name for name, _, _ in targets()}
    assert {"v1.parse_message", "v1.responder", "v1.decrypt"} <= names
    assert any(n.startswith("v2.") for n in names)


def test_corpus_messages_pass() -> None:
    assert len(CORPUS) > 30
    for data in CORPUS:
        fuzz_one(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    fuzz_one(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.integers(0, 2**32 - 1))
def test_mutated_captures(seed_message: bytes, seed: int) -> None:
    fuzz_one(_mutate(random.Random(seed), seed_message))


@pytest.mark.slow
def test_time_bounded_mutation_run() -> None:
    rng = random.Random(2015)
    deadline = time.monotonic() + BUDGET_S
    runs = 0
    while time.monotonic() < deadline:
        fuzz_one(_mutate(rng, rng.choice(CORPUS)))
        runs += 1
    assert runs > 100

"""The passive nonce fingerprint: a synthetic capture with two responders, and strongSwan."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.capture import PcapWriter
from kleptolab.cli import app
from kleptolab.defend.fingerprint import fingerprint, nonces_needed, responder_nonces
from kleptolab.ike.wire import (
    FLAG_INITIATOR,
    FLAG_RESPONSE,
    IkeHeader,
    RawPayload,
    build_payload_chain,
)

from ..conftest import CAPTURES

runner = CliRunner()
SCREENOS, STRONGSWAN, CLIENT = "192.0.2.10", "192.0.2.20", "198.51.100.1"


def ike_sa_init(spi_i: bytes, nonce: bytes, response: bool) -> bytes:
    first, body = build_payload_chain([RawPayload(34, b"\x00\x0e\x00\x00" + bytes(128)),
                                       RawPayload(40, nonce)])
    flags = FLAG_RESPONSE if response else FLAG_INITIATOR
    header = IkeHeader(spi_i, bytes(8) if not response else b"R" * 8, first, 2, 0, 34, flags, 0,
                       IkeHeader.SIZE + len(body))
    return header.build() + body


def never_zero(rng: random.Random) -> bytes:
    nonce = bytearray(rng.randbytes(32))
    nonce[0] = nonce[0] or 1
    nonce[30] = nonce[30] or 1
    return bytes(nonce)


def write_capture(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with PcapWriter(path) as pcap:
        t = 1_700_000_000.0
        for _ in range(count):
            for server, make in ((SCREENOS, never_zero), (STRONGSWAN, lambda r: r.randbytes(32))):
                spi = rng.randbytes(8)
                pcap.write_udp(t, CLIENT, 500, server, 500, ike_sa_init(spi, rng.randbytes(32), False))
                pcap.write_udp(t + 0.001, server, 500, CLIENT, 500, ike_sa_init(spi, make(rng), True))
                t += 0.01


def test_statistics() -> None:
    assert nonces_needed(0.01) == 589
    stats = fingerprint([("a", bytes([1]) * 32)] * 600 + [("b", bytes(32)), ("c", bytes(20))])
    a, b, c = stats
    assert a.verdict() == "screenos-dualec" and a.p_uniform == pytest.approx((255 / 256) ** 1200)
    assert a.likelihood_ratio == pytest.approx(1 / a.p_uniform)
    assert b.verdict() == "not-screenos" and b.zeros == 2 and b.likelihood_ratio == 0
    assert c.verdict() == "no-32-byte-nonces" and c.other_lengths == {20: 1}
    assert fingerprint([("d", bytes([1]) * 32)] * 10)[0].verdict() == "inconclusive"


def test_separates_screenos_from_strongswan_in_one_capture(tmp_path: Path) -> None:
    pcap = tmp_path / "mixed.pcap"
    write_capture(pcap, 900)
    result = runner.invoke(app, ["fingerprint", str(pcap), "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = {r["responder"]: r for r in json.loads(result.stdout)["responders"]}
    assert set(doc) == {SCREENOS, STRONGSWAN}  # initiator nonces are not counted
    assert doc[SCREENOS]["verdict"] == "screenos-dualec" and doc[SCREENOS]["nonces32"] == 900
    assert doc[STRONGSWAN]["verdict"] == "not-screenos" and doc[STRONGSWAN]["zeros_at_0_and_30"] > 0
    table = runner.invoke(app, ["fingerprint", str(pcap)])
    assert "screenos-dualec" in table.output


def test_ikev1_main_mode_responder_is_the_receiver_of_the_first_message() -> None:
    def v1(spi: bytes, nonce: bytes) -> bytes:
        first, body = build_payload_chain([RawPayload(4, bytes(128)), RawPayload(10, nonce)])
        return IkeHeader(spi, b"r" * 8, first, 1, 0, 2, 0, 0, IkeHeader.SIZE + len(body)).build() + body
    spi = b"i" * 8
    messages = [(CLIENT, SCREENOS, v1(spi, b"\x00" * 32)), (SCREENOS, CLIENT, v1(spi, b"\x01" * 32))]
    assert responder_nonces(messages) == [(SCREENOS, b"\x01" * 32)]


def test_real_strongswan_captures_are_not_flagged() -> None:
    pcaps = sorted((CAPTURES / "strongswan-5.9.8").glob("*/*.pcap"))
    if not pcaps:
        pytest.skip(f"strongSwan captures not found under {CAPTURES}")
    result = runner.invoke(app, ["fingerprint", *map(str, pcaps), "--format", "json"])
    assert result.exit_code == 0, result.output
    responders = json.loads(result.stdout)["responders"]
    assert responders and all(r["verdict"] != "screenos-dualec" for r in responders)
    assert sum(r["nonces32"] for r in responders) >= 1


def test_cli_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture")
    assert runner.invoke(app, ["fingerprint", str(junk)]).exit_code == 2
    assert runner.invoke(app, ["fingerprint", str(junk), "--alpha", "2"]).exit_code == 2

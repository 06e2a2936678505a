"""IKEv1 IV chaining with retransmitted copies in the capture (the initiator's copy after the answer).

RFC 2409 retransmissions are byte-identical, so a copy must neither be
decrypted with the IV the chain has moved on to nor move the chain itself
(phase-2 IVs start from the last phase-1 block, RFC 2409 Appendix B).  The
decryptor matches copies by message ID and content and counts them apart.
"""

from __future__ import annotations

from typing import Any

import pytest

from kleptolab.attack.decryptor import DecryptOptions
from kleptolab.attack.recovery import StateCache
from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter

from .conftest import TRAPDOOR, decrypt_to
from .synth import CLIENT, GATEWAY, gateway_queues
from .synth_v1 import PSK, V1Case, V1Session, ikev1_session

CASES = (V1Case(quick_modes=2), V1Case(aggressive=True, pfs=True, quick_modes=2))


class RetransmittingWriter:
    """Writes every frame; after each gateway IKE answer to an encrypted client message it writes
    the client's message again (its retransmitted copy, arriving late) and the gateway's answer again."""

    def __init__(self, writer: PcapWriter) -> None:
        self._w = writer
        self._pending: tuple[float, str, int, str, int, bytes] | None = None
        self.copies = 0

    def write_ip(self, t: float, packet: bytes) -> None:
        self._w.write_ip(t, packet)

    def write_udp(self, t: float, src: str, sport: int, dst: str, dport: int, data: bytes) -> None:
        self._w.write_udp(t, src, sport, dst, dport, data)
        ike = data[4:] if dport == 4500 and data[:4] == bytes(4) else data if dport == 500 else None
        if ike is None or len(ike) < 28:
            return
        if src == CLIENT and ike[19] & 1:
            self._pending = (t, src, sport, dst, dport, data)
        elif src == GATEWAY and ike[19] & 1 and self._pending is not None:
            _, *where, copy = self._pending
            self._w.write_udp(t + 0.001, *where, copy)  # type: ignore[arg-type]
            self._w.write_udp(t + 0.002, src, sport, dst, dport, data)
            self._pending = None
            self.copies += 2


@pytest.fixture(scope="module")
def retransmit_run(
    tmp_path_factory: pytest.TempPathFactory, state_cache: StateCache
) -> tuple[Any, list[V1Session], int]:
    tmp = tmp_path_factory.mktemp("v1-retransmit")
    path = tmp / "retransmit.pcap"
    gw = gateway_queues(TRAPDOOR.q, {2: 2 * len(CASES)})
    sessions = []
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        wire = RetransmittingWriter(writer)
        for i, case in enumerate(CASES):
            sessions.append(ikev1_session(wire, gw, 1_700_000_000 + i, 300 + i, case))  # type: ignore[arg-type]
            gw.tick()
    result = decrypt_to(path, tmp / "out", state_cache, DecryptOptions(psk=PSK))
    return result, sessions, wire.copies


def test_every_message_decrypts_and_copies_are_counted_apart(
    retransmit_run: tuple[Any, list[V1Session], int],
) -> None:
    result, sent, copies = retransmit_run
    sessions = result.report["sessions"]
    assert len(sessions) == 2 and copies > 0
    assert sum(s["ike_messages_retransmitted"] for s in sessions) == copies
    for s, case in zip(sessions, CASES, strict=True):
        assert "failure" not in s, s
        assert s["ike_messages_failed"] == 0
        originals = 3 * case.quick_modes + (0 if case.aggressive else 2)
        assert s["ike_messages_decrypted"] == originals
        assert len([c for c in s["child_sas"] if "failure" not in c]) == case.quick_modes
    for session, row in zip(sent, result.ikev1, strict=True):
        assert row.ka == session.ka
    keys = {r.spi: (r.encr_key, r.integ_key) for r in result.esp}
    for session in sent:
        assert all(keys[spi] == pair for spi, pair in session.esp_keys.items())
    assert all(e["decrypted"] == e["packets"] for e in result.report["esp"])

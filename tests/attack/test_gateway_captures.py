"""Issue #5 acceptance on the REAL lab gateway: decrypt a tap capture with the trapdoor alone.

One module-scoped run boots :class:`~kleptolab.device.gateway.Gateway` from a
6.3.0r20 image carrying a fresh lab trapdoor's Q, with six VPNs, and runs one
:class:`~kleptolab.device.client.VpnClient` session per VPN through
:class:`~kleptolab.lab.tap.PassiveTap` (see :mod:`.gateway_capture`):

* IKEv1 Main Mode PSK, Quick Mode PFS (``g2-esp-3des-sha``): PSK given;
* IKEv1 Aggressive Mode PSK, no PFS: PSK cracked from a wordlist of decoys;
* IKEv1 Main Mode RSA signatures, Quick Mode PFS;
* IKEv2 PSK without PFS, IKEv2 PSK with a PFS CREATE_CHILD_SA, IKEv2 RSA: no PSK given.

The decryptor then reads the pcap three times with one state cache (so only
the first pass sweeps): nothing but the trapdoor, plus the Main Mode PSK, plus
a wordlist.  Every ESP packet must decrypt with a good ICV and the inner
payloads must equal what each client sent, in order.

NAT-T: through the tap the client sees the tap's address and ports and the
gateway sees the tap's relay sockets, so the NAT-D hashes never match and both
peers float to UDP 4500: every ESP packet here is UDP-encapsulated (asserted).
The gateway cannot send raw ESP (IP protocol 50) without a raw socket, i.e.
root, so the no-NAT-T paths are covered by the synthetic captures
(``synth.py``/``synth_v1.py``, ``nat_t=False`` cases) instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kleptolab.attack.decryptor import DecryptOptions, DecryptResult, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.ikev1_attack import NEED_PSK
from kleptolab.attack.outputs import write_outputs
from kleptolab.attack.recovery import StateCache
from kleptolab.capture import EspPacket, classify_all, read_capture
from kleptolab.device.pki import init_pki
from kleptolab.drbg.trapdoor import generate_trapdoor
from kleptolab.netpkt import PROTO_ICMP, PROTO_UDP, parse_ipv4, parse_udp

from .gateway_capture import Case, Session, record_capture

pytestmark = pytest.mark.network

PSK = b"kleptolab-gw-capture-strong-psk"
WEAK_PSK = b"summer2015"
WORDLIST = (b"123456", b"password", b"netscreen", b"juniper", WEAK_PSK, b"letmein", b"vpn")

CASES = (
    Case("v1-main-psk", 1, "pre-g2-3des-sha", "g2-esp-3des-sha", "10.2.0.1", psk=PSK),
    Case("v1-aggressive-psk", 1, "pre-g2-aes128-sha", "nopfs-esp-aes128-sha", "10.2.0.2",
         psk=WEAK_PSK, aggressive=True),
    Case("v1-main-rsa", 1, "rsa-g2-3des-sha", "g2-esp-aes128-sha", "10.2.0.3"),
    Case("v2-psk", 2, "pre-g14-aes128-sha", "nopfs-esp-aes128-sha", "10.2.0.4", psk=PSK),
    Case("v2-psk-pfs", 2, "pre-g2-aes128-sha", "g2-esp-aes128-sha", "10.2.0.5", psk=PSK, pfs_rekey=True),
    Case("v2-rsa", 2, "rsa-g14-aes128-sha", "nopfs-esp-aes128-sha", "10.2.0.6"),
)
RUN_FOR = {"v1-main-psk": "psk", "v1-aggressive-psk": "wordlist"}  # the others: "bare"


@dataclass
class GatewayRun:
    """The capture, what each client sent, and the decryptor's three passes over it."""

    pcap: Path
    sessions: list[Session]
    events: list[str]
    results: dict[str, DecryptResult]
    reports: dict[str, dict[str, Any]]  # report.json as written, per pass

    def entry(self, run: str, session: Session) -> dict[str, Any]:
        entries: list[dict[str, Any]] = self.reports[run]["sessions"]
        [entry] = [s for s in entries if s["id"] == session.ike_sa]
        return entry


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> GatewayRun:
    tmp = tmp_path_factory.mktemp("gateway-capture")
    trapdoor = generate_trapdoor()
    pki = init_pki(tmp / "pki", key_size=1024)
    pcap = tmp / "tap.pcap"
    sessions, events = record_capture(pcap, trapdoor, CASES, pki)
    engine, cache = make_engine("local", 2), StateCache()
    options = {"bare": DecryptOptions(), "psk": DecryptOptions(psk=PSK),
               "wordlist": DecryptOptions(psk_wordlist=WORDLIST)}
    results, reports = {}, {}
    for name, opts in options.items():
        results[name] = result = decrypt_capture(pcap, trapdoor, engine, cache, opts)
        out = write_outputs(tmp / name, ikev1=result.ikev1, ikev2=result.ikev2, esp=result.esp,
                            plaintext=result.plaintext, report=result.report)
        reports[name] = json.loads(out["report.json"].read_text(encoding="utf-8"))
    return GatewayRun(pcap, sessions, events, results, reports)


def test_every_client_session_ran_through_the_tap(gw: GatewayRun) -> None:
    assert [s.case for s in gw.sessions] == list(CASES)
    for s in gw.sessions:
        assert s.ike_sa and s.echoed == s.udp and None not in s.pings, s
    assert sum("Completed Aggressive Mode" in e for e in gw.events) == 1, gw.events
    assert sum("Completed Main Mode" in e for e in gw.events) == 2, gw.events
    assert sum("Completed IKEv2" in e for e in gw.events) == 3, gw.events


def test_capture_holds_only_udp_encapsulated_esp(gw: GatewayRun) -> None:
    """Both peers sit behind the tap's addresses: NAT-T, so ESP rides in UDP 4500."""
    esp = [p for p in classify_all(read_capture(gw.pcap).datagrams) if isinstance(p, EspPacket)]
    # each UDP message and each ping: one ESP packet out, one back
    assert len(esp) == sum(2 * (c.messages + c.pings) for c in CASES)
    assert all(p.udp_encapsulated for p in esp)
    for report in gw.reports.values():
        assert sum(e["packets"] for e in report["esp"]) == len(esp)


def _inner(result: DecryptResult, address: str) -> tuple[list[bytes], list[bytes], int, int]:
    """UDP payloads from / to ``address`` in capture order, and ICMP packets from / to it."""
    sent: list[bytes] = []
    back: list[bytes] = []
    icmp_out = icmp_in = 0
    for _ts, packet in result.plaintext:
        ip = parse_ipv4(packet)
        if address not in (ip.src, ip.dst):
            continue
        if ip.proto == PROTO_UDP:
            (sent if ip.src == address else back).append(parse_udp(ip.payload, ip.src, ip.dst).payload)
        elif ip.proto == PROTO_ICMP:
            icmp_out += ip.src == address
            icmp_in += ip.dst == address
    return sent, back, icmp_out, icmp_in


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_every_esp_packet_decrypts_to_what_the_client_sent(gw: GatewayRun, index: int) -> None:
    session, case = gw.sessions[index], CASES[index]
    run = RUN_FOR.get(case.name, "bare")
    entry = gw.entry(run, session)
    assert "failure" not in entry, entry
    assert entry["ike_messages_failed"] == 0 and entry["ike_messages_decrypted"] >= 2
    children = entry["child_sas"]
    assert len(children) == session.children
    spis = {c[k] for c in children for k in ("spi_i_to_r", "spi_r_to_i")}
    rows = [e for e in gw.reports[run]["esp"] if e["spi"] in spis]
    assert len(rows) == 2 * session.children
    assert all(e["decrypted"] == e["packets"] and e["icv_failed"] == 0 and e["failure"] is None for e in rows), rows
    assert entry["esp_packets"] == sum(e["packets"] for e in rows) == 2 * (case.messages + case.pings)
    sent, back, icmp_out, icmp_in = _inner(gw.results[run], case.source)
    assert sent == session.udp  # in order
    assert back == session.udp  # the protected network's echo
    assert (icmp_out, icmp_in) == (case.pings, case.pings)
    pfs = [bool(c["pfs"]) for c in children]
    assert pfs == ([False, True] if case.pfs_rekey else [case.esp_proposal.startswith("g2")])
    if case.version == 1:
        assert all(c["udp_encapsulated"] for c in children)


def test_report_names_how_each_session_was_unlocked(gw: GatewayRun) -> None:
    """One sweep: each later nonce (and every DH exponent) is predicted from an earlier state."""
    report = gw.reports["bare"]
    assert report["nonce_recovery"]["sweep"] == 1, report["nonce_recovery"]
    by_id = {s["id"]: s for s in report["sessions"]}
    first, *rest = (by_id[s.ike_sa] for s in gw.sessions)
    assert first["recovered_by"] == "sweep"
    for s in rest:
        assert s["recovered_by"].startswith("predicted from "), s
    for s in by_id.values():
        assert s["unlocked_by"] in by_id and s["confirmed_states"], s


def test_ikev1_psk_sessions_need_the_psk_and_ikev2_does_not(gw: GatewayRun) -> None:
    for session in gw.sessions:
        case = session.case
        bare = gw.entry("bare", session)
        if case.version == 1 and case.psk is not None:
            assert bare["failure"].startswith(NEED_PSK), bare
        else:
            assert "failure" not in bare and "psk" not in bare, bare
    main, aggressive = gw.sessions[0], gw.sessions[1]
    assert gw.entry("psk", main)["psk"] == {"source": "given", "verified": True}
    assert gw.entry("psk", main)["auth_check"] == "HASH_I verified"
    assert gw.entry("psk", aggressive)["failure"] == "the given pre-shared key does not verify (HASH_R mismatch)"
    cracked = gw.entry("wordlist", aggressive)["psk"]
    assert cracked["source"] == "cracked" and cracked["value"] == WEAK_PSK.decode()
    assert cracked["guesses"] == WORDLIST.index(WEAK_PSK) + 1
    assert gw.entry("wordlist", main)["failure"].startswith(NEED_PSK)
    assert gw.entry("bare", gw.sessions[2])["auth_check"] == "SIG_I verified with the sender's certificate"


def test_later_passes_reuse_the_swept_states(gw: GatewayRun) -> None:
    assert gw.reports["psk"]["nonce_recovery"]["sweep"] == 0
    assert gw.reports["wordlist"]["nonce_recovery"]["sweep"] == 0

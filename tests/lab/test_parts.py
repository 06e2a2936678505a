"""The demo's parts on their own: tap, syslog collector, SSH login, draws, report, scenarios."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from kleptolab.capture import read_capture
from kleptolab.capture.pcapio import PcapWriter
from kleptolab.lab.backdoor import ssh_login
from kleptolab.lab.defender import DefenderRun, run_tool
from kleptolab.lab.draws import draw_records
from kleptolab.lab.model import (
    DemoRun,
    Finding,
    PhaseResult,
    PlaintextPair,
    RecoveryWork,
    UnlockRecord,
)
from kleptolab.lab.observe import ResponderValues
from kleptolab.lab.report import render_report
from kleptolab.lab.scenarios import SCENARIOS, WEAK_PSK, WORDLIST, scenario_by_name
from kleptolab.lab.syslog import SyslogCollector
from kleptolab.lab.tap import PassiveTap


async def _udp_client(port: int, payloads: list[bytes]) -> list[bytes]:
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            got.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
    try:
        replies = []
        for p in payloads:
            transport.sendto(p, ("127.0.0.1", port))
            replies.append(await asyncio.wait_for(got.get(), 2.0))
        return replies
    finally:
        transport.close()


def test_tap_relays_unchanged_and_records_under_well_known_ports(tmp_path: Path) -> None:
    from kleptolab.device.services import start_udp_echo

    pcap = tmp_path / "tap.pcap"

    async def main() -> list[bytes]:
        echo, addr = await start_udp_echo("127.0.0.1", 0)
        writer = PcapWriter(pcap)
        tap = PassiveTap(writer, "127.0.0.1", {"ike": addr[1], "natt": addr[1]})
        ports = await tap.start()
        try:
            replies = await _udp_client(ports["ike"], [b"one", b"two"])
            replies += await _udp_client(ports["natt"], [b"\x00\x00\x00\x00three"])
            assert (tap.stats.to_gateway, tap.stats.to_client) == (3, 3)
            return replies
        finally:
            await tap.stop()
            writer.close()
            echo.close()

    assert asyncio.run(main()) == [b"one", b"two", b"\x00\x00\x00\x00three"]
    grams = read_capture(pcap).datagrams
    assert [g.payload for g in grams] == [b"one", b"one", b"two", b"two",
                                          b"\x00\x00\x00\x00three", b"\x00\x00\x00\x00three"]
    assert [g.dport for g in grams[0::2]] == [500, 500, 4500]
    assert [g.sport for g in grams[1::2]] == [500, 500, 4500]


def test_tap_can_record_canonical_endpoints_on_a_packet_clock(tmp_path: Path) -> None:
    from kleptolab.device.services import start_udp_echo
    from kleptolab.lab.tap import LAB_EPOCH, PacketClock

    pcap = tmp_path / "tap.pcap"

    async def main() -> None:
        echo, addr = await start_udp_echo("127.0.0.1", 0)
        writer = PcapWriter(pcap)
        tap = PassiveTap(writer, "127.0.0.1", {"ike": addr[1], "natt": addr[1]}, clock=PacketClock(),
                         record_host="127.0.0.10", record_ports={"ike": 10500, "natt": 14500},
                         canonical_client="127.0.0.1")
        ports = await tap.start()
        try:
            await _udp_client(ports["ike"], [b"one"])
            await _udp_client(ports["ike"], [b"two"])  # a second client: a second canonical port
            await _udp_client(ports["natt"], [b"\x00\x00\x00\x00three"])
        finally:
            await tap.stop()
            writer.close()
            echo.close()

    asyncio.run(main())
    grams = read_capture(pcap).datagrams
    assert [(g.src, g.sport, g.dst, g.dport) for g in grams[0::2]] == [
        ("127.0.0.1", 50001, "127.0.0.10", 10500), ("127.0.0.1", 50002, "127.0.0.10", 10500),
        ("127.0.0.1", 54501, "127.0.0.10", 14500)]
    assert [(g.src, g.sport, g.dst, g.dport) for g in grams[1::2]] == [
        ("127.0.0.10", 10500, "127.0.0.1", 50001), ("127.0.0.10", 10500, "127.0.0.1", 50002),
        ("127.0.0.10", 14500, "127.0.0.1", 54501)]
    assert [round(g.timestamp - LAB_EPOCH, 6) for g in grams] == [0.0, 0.001, 0.002, 0.003, 0.004, 0.005]


def test_volatile_narration_stays_on_the_terminal() -> None:
    from kleptolab.lab.model import stable_text, terminal_text, volatile

    text = "swept 2^16 prefixes" + volatile(" in 1.42 s") + " → 1 state"
    assert stable_text(text) == "swept 2^16 prefixes → 1 state"
    assert terminal_text(text) == "swept 2^16 prefixes in 1.42 s → 1 state"


def test_tap_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="unknown tap roles"):
        PassiveTap(PcapWriter(io.BytesIO()), "127.0.0.1", {"telnet": 23})


def test_syslog_collector_keeps_lines_and_writes_them(tmp_path: Path) -> None:
    from kleptolab.device.eventlog import EventLog, SyslogFormat, SyslogSender

    async def main() -> list[str]:
        async with SyslogCollector() as collector:
            sender = SyslogSender(collector.address, fmt=SyslogFormat.BSD)
            log = EventLog()
            log.add_sink(sender)
            log.emit(515, "Admin user system has logged on via SSH from 127.0.0.1:4242")
            await collector.wait_quiet(quiet=0.1)
            sender.close()
            collector.write(tmp_path / "syslog.log")
            return collector.lines

    lines = asyncio.run(main())
    assert len(lines) == 1 and "00515: Admin user system has logged on" in lines[0]
    assert (tmp_path / "syslog.log").read_text() == lines[0] + "\n"
    with pytest.raises(RuntimeError, match="not started"):
        _ = SyslogCollector().address


def test_ssh_login_accepted_and_refused() -> None:
    asyncssh = pytest.importorskip("asyncssh")

    class Server(asyncssh.SSHServer):  # type: ignore[misc]
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return bool(password == "open sesame")

    async def shell(process: asyncssh.SSHServerProcess) -> None:  # type: ignore[name-defined]
        process.stdout.write("box-> ")
        line = await process.stdin.readline()
        # asyncssh's server line editor echoes the typed line, as a device CLI does
        del line
        process.stdout.write(f"answer for {process.get_extra_info('username')}\r\nbox-> ")
        await process.stdin.readline()
        process.exit(0)

    async def main() -> tuple[object, object]:
        key = asyncssh.generate_private_key("ssh-ed25519")
        server = await asyncssh.create_server(Server, "127.0.0.1", 0, server_host_keys=[key],
                                              process_factory=shell)
        port = server.sockets[0].getsockname()[1]
        try:
            ok = await ssh_login("127.0.0.1", port, "whoever", "open sesame", "get system")
            bad = await ssh_login("127.0.0.1", port, "whoever", "wrong", "get system")
            return ok, bad
        finally:
            server.close()
            await server.wait_closed()

    ok, bad = asyncio.run(main())
    assert ok.accepted and ok.output == "answer for whoever" and ok.error == ""  # type: ignore[attr-defined]
    assert not bad.accepted and "permission denied" in bad.error  # type: ignore[attr-defined]


def test_ssh_login_to_a_closed_port_is_an_outcome_not_an_exception() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    attempt = asyncio.run(ssh_login("127.0.0.1", port, "x", "y", timeout=3.0))
    assert not attempt.accepted and "connection failed" in attempt.error


@dataclass(frozen=True)
class _Draw:
    index: int
    purpose: str
    output: bytes


@dataclass(frozen=True)
class _Taken:
    kind: str
    value: bytes | int
    draws: tuple[int, ...]
    on_demand: bool = False


def test_draw_records_link_draws_to_the_wire_and_the_attack() -> None:
    from kleptolab.ike.dh import group_by_number

    group = group_by_number(2)
    nonce = bytes(range(32))
    private = 0x1234567890ABCDEF
    seen = ResponderValues("aabbccddeeff0011:1122334455667788", 1, 4, nonce, group.public_value(private))
    draws = [_Draw(1, "nonce", nonce), _Draw(2, "nonce", b"\x01" * 32), _Draw(3, "dh:2", b"\x02" * 32),
             _Draw(4, "cookie", b"\x03" * 32)]
    taken = [_Taken("nonce", nonce, (1,)), _Taken("dh:2", private, (3,), on_demand=True)]
    report = {"sessions": [{"id": seen.session, "dh_draw": {"offset": 2, "anchor_nonce": "Nr",
                                                             "anchor_session": seen.session}}]}
    rows = draw_records(draws, taken, [seen], report)
    assert [r.index for r in rows] == [1, 2, 3, 4]
    assert rows[0].used_in.startswith("responder nonce Nr of IKEv1 SA aabbccdd") and "frame 4" in rows[0].used_in
    assert rows[1].used_in == "queued, never used"
    assert "behind KEr of IKEv1 SA aabbccdd" in rows[2].used_in
    assert "predicted it 2 call(s) after" in rows[2].used_in and "made on demand" in rows[2].used_in
    assert rows[3].used_in == "cookie" and rows[0].hex == nonce.hex()


def _run() -> DemoRun:
    phase = PhaseResult("6.3.0r20", vpn_decrypted=True, backdoor_login=True, reason="<why & how>",
                        plaintext=[PlaintextPair("s1", "<b>hi</b>", "<b>hi</b>")],
                        recovery=[RecoveryWork("s1", 65536, 1),
                                  RecoveryWork("s2", 0, 1, "predicted", "#1 draw +3")],
                        unlocks=[UnlockRecord(2, "aa:bb", 2, 11, 31, "predicted from aa draw 3", 1, 8, 3,
                                              "connection 2 unlocked by connection 1's <nonce>")])
    run = DemoRun("0.1.0", 7, "default", "ab" * 32, phase,
                  PhaseResult("6.3.0r21", reason="Q is not the lab trapdoor's Q"))
    run.findings = [Finding("scan", "x.img", "replaced-q", "<script>alert(1)</script>")]
    return run


def test_report_escapes_everything_and_has_every_section() -> None:
    html = render_report(_run(), problems=["stage <x> failed"])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "&lt;why &amp; how&gt;" in html
    for section in ("problems", "summary", "timeline", "prng-draws", "unlocks", "keys", "plaintext",
                    "detectors", "recovery-work", "patched"):
        assert f'<section id="{section}">' in html
    assert "stage &lt;x&gt; failed" in html
    assert "connection 1&#x27;s &lt;nonce&gt;" in html and '<tr class="stale">' in html
    assert "predicted (#1 draw +3)" in html
    fetched = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in fetched and "https://" not in fetched
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert '<section id="problems">' not in render_report(_run())


def test_run_tool_turns_a_crash_into_a_problem() -> None:
    run = DefenderRun()
    run_tool(run, "ok", "t", lambda: [Finding("ok", "t", "info", "fine")])

    def broken() -> list[Finding]:
        raise KeyError("boom")

    run_tool(run, "logs", "syslog.log", broken)
    assert [f.severity for f in run.findings] == ["info", "error"]
    assert run.problems == ["defender tool 'logs' failed on syslog.log: KeyError: 'boom'"]


def test_scenarios() -> None:
    assert set(SCENARIOS) == {"default", "weak-psk", "drained-queues", "6.2.0r15", "6.1"}
    assert WEAK_PSK.decode() in WORDLIST
    assert not scenario_by_name("weak-psk").attacker_knows_psk
    assert {v.version for v in scenario_by_name("default").vpns} == {1, 2}
    drained = scenario_by_name("drained-queues")
    assert [s.vpn.ike_proposal for s in drained.sessions] == ["pre-g14-aes128-sha"] * 8 + ["pre-g2-3des-sha"]
    assert drained.stale_key_session == 8
    with pytest.raises(ValueError, match="choose one of default"):
        scenario_by_name("6.4")


def test_drained_queues_design_follows_the_queue_rules() -> None:
    """CCS16 Figure 2 from the queue rules alone: boot fills nonces 1-8, MODP2048 9-10, MODP1024
    11-12; eight MODP2048 responders (timer ticks in between) use up the boot nonces, so the
    MODP1024 responder gets key 11 and a nonce drawn after it."""
    from kleptolab.device.config import load_config
    from kleptolab.device.queues import PrngQueues, queue_sizes
    from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
    from kleptolab.ike.dh import group_by_number
    from kleptolab.lab.demo import seeded_trapdoor

    drained = scenario_by_name("drained-queues")
    config = load_config(None, vpn=[v.gateway_table(drained.psk) for v in drained.vpns])
    sizes = queue_sizes(config.enabled_peers)  # what the gateway itself sizes its queues with
    assert sizes == {14: 2, 2: 2}
    by_name = {p.name: p for p in config.enabled_peers}
    groups = [group_by_number(by_name[s.vpn.name].ike_proposals[0].dh_group) for s in drained.sessions]
    assert [g.number for g in groups] == [14] * 8 + [2]
    for ticks in (0, 3):  # however many refills the timer slips in, FIFO keeps the boot nonces first
        prng = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=seeded_trapdoor(1).q, seed=5, cycle_counter=lambda: 0)
        gw = PrngQueues(prng, sizes, nonce_size=32, clock=lambda: 0.0)
        gw.fill()
        assert [d.purpose for d in gw.draws] == ["nonce"] * 8 + ["dh:14"] * 2 + ["dh:2"] * 2
        for group in groups:  # the responder's order: SPI, DH value, nonce
            gw.random_bytes(8, "spi")
            gw.dh_private(group)
            gw.nonce()
            for _ in range(ticks):
                gw.tick()
        key, nonce = list(gw.taken)[-2:]
        assert key.kind == "dh:2" and key.draws == (11,)
        assert nonce.kind == "nonce" and nonce.draws[0] > 12

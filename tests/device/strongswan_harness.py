"""A real strongSwan initiator against the lab gateway, in two network namespaces.

Reusable by other tests (the decryptor's acceptance test reads the capture and
charon's level-4 log).  Either import a fixture (``strongswan_ikev1``,
``strongswan_ikev2``: session-scoped, skip with a reason where root, netns
or the packages are missing) into the test module, or call directly::

    from tests.device.strongswan_harness import IKEV1_3DES, interop_skip_reason, run_interop

    reason = interop_skip_reason()
    if reason: pytest.skip(reason)
    result = run_interop(tmp_path, IKEV1_3DES)
    result.pcap, result.charon_log, result.trapdoor  # capture, initiator log, lab trapdoor (JSON)

Topology (only inside namespaces this module creates and deletes):
``klgw<pid>`` holds 192.0.2.1 and runs the gateway (this file's ``serve``
entry point: :mod:`kleptolab.device.gateway` when it exists, else a
:class:`~kleptolab.device.vpn.VpnService` over a ScreenOS 6.3.0r20 PRNG;
either way with a fresh lab trapdoor saved as ``trapdoor.json``) plus ``tcpdump``; ``klcl<pid>`` holds 192.0.2.2 and
203.0.113.1 and runs charon (kernel-libipsec, so NAT-T is forced;
ike-ecosystem.md §3.4) and ``ping`` to the protected host 198.51.100.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kleptolab.drbg.trapdoor import Trapdoor
    from kleptolab.ike.common import PeerConfig

CHARON = Path("/usr/lib/ipsec/charon")
TOOLS = ("ip", "swanctl", "tcpdump", "ping", "unshare")
PACKAGES = (
    "strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins "
    "libstrongswan-standard-plugins tcpdump iputils-ping iproute2"
)
GW_ADDR, CL_ADDR = "192.0.2.1", "192.0.2.2"
PROTECTED_HOST, CLIENT_HOST = "198.51.100.1", "203.0.113.1"
PSK = "not-a-real-secret"


@dataclass(frozen=True)
class InteropCase:
    """One strongSwan connection and the matching gateway configuration (ScreenOS names)."""

    name: str
    version: int
    ike: str  # strongSwan syntax
    esp: str
    gw_ike: str  # ScreenOS proposal names
    gw_esp: str
    auth: str = "psk"  # or "rsa": certificates from `kleptolab pki init` on both sides
    gw_remote_ts: str = f"{CLIENT_HOST}/32"  # wider than strongSwan's /32 to exercise narrowing
    rekey_ike: int = 0  # strongSwan's IKE_SA rekey_time in seconds (0: its default)
    rekey_child: int = 0  # CHILD_SA rekey_time in seconds (0: its default)
    drop_every: int = 0  # the gateway loses every n-th IKE datagram it sends (0: none)
    terminate: bool = False  # after the pings: the gateway loses its answer to charon's IKE_SA
    # Delete (`swanctl --terminate`), so the retransmitted Delete meets an SA already gone


IKEV1_3DES = InteropCase(
    "ikev1-mm-psk-3des-sha1-modp1024",
    1,
    "3des-sha1-modp1024",
    "3des-sha1-modp1024",
    "pre-g2-3des-sha",
    "g2-esp-3des-sha",
)
IKEV2_AES = InteropCase(
    "ikev2-psk-aes128-sha256-modp2048",
    2,
    "aes128-sha256-modp2048",
    "aes128-sha1",
    "pre-g14-aes128-sha-256",
    "nopfs-esp-aes128-sha",
)
IKEV1_RSA = InteropCase(
    "ikev1-mm-rsa-3des-sha1-modp1024",
    1,
    "3des-sha1-modp1024",
    "3des-sha1-modp1024",
    "rsa-g2-3des-sha",
    "g2-esp-3des-sha",
    auth="rsa",
    gw_remote_ts="203.0.113.0/24",
)
IKEV2_RSA = InteropCase(
    "ikev2-rsa-aes128-sha256-modp2048",
    2,
    "aes128-sha256-modp2048",
    "aes128-sha1",
    "rsa-g14-aes128-sha-256",
    "nopfs-esp-aes128-sha",
    auth="rsa",
    gw_remote_ts="203.0.113.0/24",
)


@dataclass
class InteropResult:
    """What one run left in ``workdir`` and what it saw."""

    case: InteropCase
    workdir: Path
    pcap: Path
    charon_log: Path
    gateway_log: Path
    trapdoor: Path | None
    initiate_output: str = ""
    sas_output: str = ""
    ping_output: str = ""
    ping_replies: int = 0
    terminate_output: str = ""
    established: bool = False
    notes: list[str] = field(default_factory=list)


def interop_skip_reason() -> str | None:
    """Why the interop test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    missing = [t for t in TOOLS if shutil.which(t) is None] + (
        [str(CHARON)] if not CHARON.exists() else []
    )
    if missing:
        return f"missing {', '.join(missing)} (apt-get install {PACKAGES})"
    probe = f"klprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"network namespaces unavailable: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun is missing (kernel-libipsec needs TUN)"
    return None


def _sh(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )
    return done


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def _esp_in_capture(pcap: Path) -> int:
    """ESP packets tcpdump has written so far (a partial last record is ignored)."""
    from kleptolab.capture import EspPacket, classify_all, read_capture

    try:
        packets = classify_all(read_capture(pcap).datagrams)
    except (OSError, ValueError):
        return 0
    return sum(isinstance(p, EspPacket) for p in packets)


def _strongswan_conf(workdir: Path, case: InteropCase | None = None) -> Path:
    conf = workdir / "strongswan.conf"
    # with lost replies: retransmit after 1 s, 1.5 s, 2.25 s, ... so rekeys still finish quickly
    retransmit = (
        "retransmit_tries = 5\n  retransmit_timeout = 1.0\n  retransmit_base = 1.5"
        if case is not None and case.drop_every
        else "retransmit_tries = 2"
    )
    conf.write_text(
        f"""charon {{
  load_modular = yes
  install_virtual_ip = no
  {retransmit}
  filelog {{
    log {{
      path = {workdir / "charon.log"}
      time_format = %T
      flush_line = yes
      default = 1
      ike = 4
      chd = 4
      cfg = 2
      net = 2
      enc = 2
      knl = 2
    }}
  }}
  plugins {{
    include /etc/strongswan.d/charon/*.conf
    kernel-libipsec {{
      load = yes
    }}
    vici {{
      socket = unix://{workdir / "charon.vici"}
    }}
  }}
}}
swanctl {{
  load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}}
"""
    )
    return conf


def _swanctl_conf(workdir: Path, case: InteropCase) -> Path:
    conf = workdir / "swanctl.conf"
    pki = workdir / "pki"
    if case.auth == "rsa":
        local = f"auth = pubkey\n            certs = {pki / 'client.crt'}"
        remote = f"auth = pubkey\n             cacerts = {pki / 'ca.crt'}"
        private = workdir / "private"  # swanctl --file loads keys from <conf dir>/private only
        private.mkdir(parents=True, exist_ok=True)
        shutil.copy(pki / "client.key.pem", private / "client.key.pem")
        secret = ""
    else:
        local, remote = "auth = psk", "auth = psk"
        secret = f"""ike-1 {{ id-a = gw.example
          id-b = client.example
          secret = "{PSK}" }}"""
    ike_rekey = f"rekey_time = {case.rekey_ike}s\n    rand_time = 0s" if case.rekey_ike else ""
    child_rekey = f"rekey_time = {case.rekey_child}s\n            rand_time = 0s" if case.rekey_child else ""
    conf.write_text(
        f"""connections {{
  c {{
    version = {case.version}
    {ike_rekey}
    aggressive = no
    local_addrs = {CL_ADDR}
    remote_addrs = {GW_ADDR}
    proposals = {case.ike}
    local {{ {local}
            id = client.example }}
    remote {{ {remote}
             id = gw.example }}
    children {{
      net {{ local_ts = {CLIENT_HOST}/32
            remote_ts = {PROTECTED_HOST}/32
            esp_proposals = {case.esp}
            {child_rekey}
            mode = tunnel }}
    }}
  }}
}}
secrets {{
  {secret}
}}
"""
    )
    return conf


class _Namespaces:
    def __init__(self) -> None:
        pid = os.getpid()
        self.gw, self.cl = f"klgw{pid}", f"klcl{pid}"
        self.gw_if, self.cl_if = f"vgw{pid}"[:15], f"vcl{pid}"[:15]

    def create(self) -> None:
        self.delete()
        _sh("ip", "netns", "add", self.gw)
        _sh("ip", "netns", "add", self.cl)
        _sh("ip", "link", "add", self.gw_if, "type", "veth", "peer", "name", self.cl_if)
        _sh("ip", "link", "set", self.gw_if, "netns", self.gw)
        _sh("ip", "link", "set", self.cl_if, "netns", self.cl)
        for ns, ifname, addr in ((self.gw, self.gw_if, GW_ADDR), (self.cl, self.cl_if, CL_ADDR)):
            _sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", ifname)
            _sh("ip", "-n", ns, "link", "set", ifname, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        _sh("ip", "-n", self.cl, "addr", "add", f"{CLIENT_HOST}/32", "dev", "lo")

    def delete(self) -> None:
        for ns in (self.gw, self.cl):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _log_fd(files: contextlib.ExitStack, path: Path) -> int:
    """A file descriptor for a child's output, closed with ``files``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    files.callback(os.close, fd)
    return fd


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def run_interop(
    workdir: Path, case: InteropCase, *, pings: int = 3, connect_timeout: int = 15
) -> InteropResult:
    """Set up, let strongSwan connect and ping, tear down; the capture and logs stay in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "run").mkdir(exist_ok=True)
    result = InteropResult(
        case,
        workdir,
        workdir / f"{case.name}.pcap",
        workdir / "charon.log",
        workdir / "gateway.log",
        None,
    )
    ns = _Namespaces()
    tcpdump = gateway = charon = None
    files = contextlib.ExitStack()
    try:
        ns.create()
        tcpdump_err = _log_fd(files, workdir / "tcpdump.err")
        tcpdump = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns.gw,
                "tcpdump",
                "-i",
                ns.gw_if,
                "-U",
                "-n",
                "-w",
                str(result.pcap),
                "udp",
            ],
            stdout=subprocess.DEVNULL,
            stderr=tcpdump_err,
        )
        _wait_for(lambda: b"listening on" in (workdir / "tcpdump.err").read_bytes(), 10, "tcpdump")
        ready = workdir / "gateway.ready"
        if case.auth == "rsa":
            from kleptolab.device.pki import init_pki

            init_pki(workdir / "pki", overwrite=True)
        gw_config = {
            "auth": case.auth,
            "remote_ts": case.gw_remote_ts,
            "version": case.version,
            "ike": case.gw_ike,
            "esp": case.gw_esp,
            "host": GW_ADDR,
            "workdir": str(workdir),
            "ready": str(ready),
            "drop_every": case.drop_every,
        }
        (workdir / "gateway.json").write_text(json.dumps(gw_config))
        gateway = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns.gw,
                sys.executable,
                __file__,
                "serve",
                str(workdir / "gateway.json"),
            ],
            stdout=_log_fd(files, result.gateway_log),
            stderr=subprocess.STDOUT,
        )
        _wait_for(lambda: ready.exists() or gateway.poll() is not None, 20, "the gateway to start")
        if not ready.exists():
            raise RuntimeError(f"gateway exited early: {result.gateway_log.read_text()[-2000:]}")
        info = json.loads(ready.read_text())
        result.trapdoor = Path(info["trapdoor"])
        result.notes.append(f"gateway: {info['device']}")
        conf = _strongswan_conf(workdir, case)
        swanctl = _swanctl_conf(workdir, case)
        vici = workdir / "charon.vici"
        vici.unlink(missing_ok=True)
        charon = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns.cl,
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"mount --bind {workdir / 'run'} /run && STRONGSWAN_CONF={conf} exec {CHARON}",
            ],
            stdout=_log_fd(files, workdir / "charon.out"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(lambda: vici.exists() or charon.poll() is not None, 15, "charon's vici socket")
        env_conf = f"STRONGSWAN_CONF={conf}"
        uri = f"unix://{vici}"
        loaded = _sh(
            "ip",
            "netns",
            "exec",
            ns.cl,
            "env",
            env_conf,
            "swanctl",
            "--load-all",
            "--file",
            str(swanctl),
            "--uri",
            uri,
        )
        (workdir / "swanctl-load.out").write_text(loaded.stdout + loaded.stderr)
        init = _sh(
            "ip",
            "netns",
            "exec",
            ns.cl,
            "env",
            env_conf,
            "swanctl",
            "--initiate",
            "--child",
            "net",
            "--uri",
            uri,
            "--timeout",
            str(connect_timeout),
            check=False,
            timeout=connect_timeout + 10,
        )
        result.initiate_output = init.stdout + init.stderr
        result.established = init.returncode == 0
        sas = _sh(
            "ip",
            "netns",
            "exec",
            ns.cl,
            "env",
            env_conf,
            "swanctl",
            "--list-sas",
            "--uri",
            uri,
            check=False,
        )
        result.sas_output = sas.stdout
        if result.established and pings:
            ping = _sh(
                "ip",
                "netns",
                "exec",
                ns.cl,
                "ping",
                "-c",
                str(pings),
                "-W",
                "2",
                "-i",
                "1",
                "-I",
                CLIENT_HOST,
                PROTECTED_HOST,
                check=False,
                timeout=10 + 3 * pings,
            )
            result.ping_output = ping.stdout + ping.stderr
            result.ping_replies = sum(
                1 for line in ping.stdout.splitlines() if "bytes from" in line
            )
            # tcpdump drops what it has not written yet when it is stopped, and on a
            # loaded machine it lags: wait until every echo is on disk.
            with contextlib.suppress(TimeoutError):
                _wait_for(lambda: _esp_in_capture(result.pcap) >= 2 * result.ping_replies, 10, "tcpdump")
        if result.established and case.terminate:
            gateway.send_signal(signal.SIGUSR1)  # lose the next IKE datagram: the Delete's answer
            time.sleep(0.3)
            down = _sh("ip", "netns", "exec", ns.cl, "env", env_conf, "swanctl", "--terminate",
                       "--ike", "c", "--uri", uri, "--timeout", "20", check=False, timeout=30)
            result.terminate_output = down.stdout + down.stderr
    finally:
        _stop(charon)
        _stop(gateway)
        if tcpdump is not None:
            _settle(result.pcap)
        _stop(tcpdump, signal.SIGINT)
        files.close()
        ns.delete()
    return result


def _settle(pcap: Path, quiet: float = 1.0, limit: float = 6.0) -> None:
    """Wait until tcpdump has written everything (the capture stops growing for ``quiet`` s):
    on a loaded machine it lags, and frames still queued when it is stopped are lost."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = pcap.stat().st_size if pcap.exists() else 0
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def _fixture_run(tmp_path_factory: pytest.TempPathFactory, case: InteropCase) -> InteropResult:
    reason = interop_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return run_interop(tmp_path_factory.mktemp(case.name), case)


@pytest.fixture(scope="session")
def strongswan_ikev1(tmp_path_factory: pytest.TempPathFactory) -> InteropResult:
    """strongSwan IKEv1 Main Mode PSK 3des-sha1-modp1024 + Quick Mode PFS against the gateway, 3 pings."""
    return _fixture_run(tmp_path_factory, IKEV1_3DES)


@pytest.fixture(scope="session")
def strongswan_ikev2(tmp_path_factory: pytest.TempPathFactory) -> InteropResult:
    """strongSwan IKEv2 PSK aes128-sha256-modp2048 (ESP aes128-sha1) against the gateway, 3 pings."""
    return _fixture_run(tmp_path_factory, IKEV2_AES)


# --- the gateway side, run inside the gateway namespace ----------------------------------------


class _PrintLog:
    """A VpnLog that prints each line (the gateway namespace's stdout goes to gateway.log)."""

    def record(self, kind: str, message: str, **fields: object) -> None:
        print(f"{time.monotonic():.3f} {kind}: {message}", flush=True)


def _peer(cfg: dict[str, Any]) -> PeerConfig:
    from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
    from kleptolab.ike.common import PeerConfig

    return PeerConfig(
        name="strongswan",
        version=cfg["version"],
        local_id="gw.example",
        remote_id="client.example",
        ike_proposals=(parse_ike_proposal(cfg["ike"]),),
        child_proposals=(parse_child_proposal(cfg["esp"]),),
        local_ts=ipaddress.IPv4Network(f"{PROTECTED_HOST}/32"),
        remote_ts=ipaddress.IPv4Network(cfg.get("remote_ts", f"{CLIENT_HOST}/32")),
        psk=PSK.encode(),
    )


async def _start_gateway(cfg: dict[str, Any], trapdoor: Trapdoor, workdir: Path) -> tuple[Any, Any]:
    """The whole emulated device (firmware image with the lab Q, event log, queues) when it exists."""
    from kleptolab.device.config import parse_config
    from kleptolab.device.firmware import build_image
    from kleptolab.device.gateway import Gateway

    image = workdir / "firmware-6.3.0r20.bin"
    image.write_bytes(build_image("6.3.0r20", trapdoor_q=trapdoor.q))
    pki = workdir / "pki"
    auth: dict[str, str] = (
        {"auth": "rsa-sig", "private_key": str(pki / "gw.key.pem"),
         "certificate": str(pki / "gw.crt"), "trusted_ca": str(pki / "ca.crt")}
        if cfg.get("auth") == "rsa"
        else {"psk": PSK}
    )
    config = parse_config(
        {
            "firmware": str(image),
            "listen": cfg["host"],
            "allow_external_listen": True,
            "ports": {"ike": 500, "natt": 4500, "ssh": 0, "telnet": 0},
            "vpn": [
                {
                    "name": "strongswan",
                    "version": cfg["version"],
                    **auth,
                    "local_id": "gw.example",
                    "remote_id": "client.example",
                    "ike_proposals": [cfg["ike"]],
                    "child_proposals": [cfg["esp"]],
                    "local_ts": f"{PROTECTED_HOST}/32",
                    "remote_ts": cfg.get("remote_ts", f"{CLIENT_HOST}/32"),
                }
            ],
        }
    )
    gateway = Gateway(config)
    gateway.event_log.add_sink(lambda entry: print(entry.text, flush=True))
    await gateway.start()
    return gateway, gateway.queues


async def _serve(config_path: Path) -> None:
    """Run the gateway side until SIGTERM; writes the ready file, the trapdoor and the PRNG draws."""
    from kleptolab.device.vpn import VpnService
    from kleptolab.drbg.trapdoor import generate_trapdoor

    cfg = json.loads(config_path.read_text())
    workdir = Path(cfg["workdir"])
    trapdoor = generate_trapdoor()
    trapdoor.save(workdir / "trapdoor.json")
    try:
        device, keys = await _start_gateway(cfg, trapdoor, workdir)
        kind = "kleptolab.device.gateway.Gateway"
    except ImportError:
        keys = _screenos_keys(_peer(cfg), trapdoor)
        device = VpnService([_peer(cfg)], keys, log=_PrintLog(), host=cfg["host"])
        await device.start()
        kind = "kleptolab.device.vpn.VpnService"
    print(f"serving with {kind}", flush=True)
    lose_next = _lose_ike_replies(getattr(device, "vpn", device), int(cfg.get("drop_every") or 0))
    Path(cfg["ready"]).write_text(
        json.dumps({"trapdoor": str(workdir / "trapdoor.json"), "device": kind})
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lose_next)
    await stop.wait()
    await device.stop()
    (workdir / "gateway-draws.json").write_text(
        json.dumps(
            [{"index": d.index, "purpose": d.purpose, "output": d.output.hex()} for d in keys.draws]
        )
    )


def _lose_ike_replies(vpn: Any, every: int) -> Any:
    """Make the gateway lose every ``every``-th IKE datagram it sends (ESP and keepalives pass);
    the returned function makes it lose the next one as well (the SIGUSR1 handler)."""
    sent = [0]
    next_one = [False]

    def drop(dgram: Any) -> bool:
        data = dgram.data
        if dgram.local_port == 4500 and data[:4] != bytes(4):
            return False  # ESP (or a keepalive)
        sent[0] += 1
        lose = next_one[0] or (every > 0 and sent[0] % every == 0)
        next_one[0] = False
        if lose:
            print(f"{time.monotonic():.3f} test: IKE datagram #{sent[0]} lost on purpose", flush=True)
        return lose

    def lose_next() -> None:
        next_one[0] = True

    vpn.drop_outgoing = drop
    return lose_next


def _screenos_keys(peer: PeerConfig, trapdoor: Trapdoor) -> Any:
    """A ScreenOS 6.3.0r20-like KeySource: Dual EC with the lab Q behind pre-generation queues."""
    from kleptolab.device.profiles import profile_for
    from kleptolab.device.queues import PrngQueues, queue_sizes
    from kleptolab.drbg.screenos import ScreenOsPrng

    profile = profile_for("6.3.0r20")
    prng = ScreenOsPrng(profile.prng, q=trapdoor.q, seed=int.from_bytes(os.urandom(32), "big") or 1)
    queues = PrngQueues(prng, queue_sizes([peer]), nonce_size=profile.nonce_size)
    queues.fill()
    return queues


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway side (inside the gateway namespace)")
    serve.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(args.config))


if __name__ == "__main__":
    main()

"""The lab gateway (booted from a 6.3.0r20 lab image) in its own process, for the flood tests.

``python tests/device/flood_gateway.py '{"aggressive": false}'`` boots the
gateway with its default configuration (or its IKEv1 VPN in Aggressive Mode)
on 127.0.0.1, ports chosen by the kernel, prints one JSON line with the
ports, samples its half-open state every 20 ms, and when stdin closes prints
one JSON line of figures (peak half-open and SA counts, peak RSS) and exits.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
import sys
import tomllib

from kleptolab.device.config import DEFAULT_CONFIG_TOML, load_config
from kleptolab.device.firmware import build_image
from kleptolab.device.gateway import Gateway
from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.drbg.trapdoor import generate_trapdoor
from kleptolab.ike.common import PeerConfig

PSK = b"not-a-real-secret"
EPHEMERAL = {"ike": 0, "natt": 0, "ssh": 0, "telnet": 0}


def vpn_tables(aggressive: bool) -> list[dict[str, object]]:
    """The default configuration's [[vpn]] tables, the IKEv1 one in Aggressive Mode if asked."""
    tables: list[dict[str, object]] = tomllib.loads(DEFAULT_CONFIG_TOML)["vpn"]
    for table in tables:
        if table["version"] == 1:
            table["aggressive"] = aggressive
    return tables


def gateway_peers(aggressive: bool) -> list[PeerConfig]:
    """PeerConfigs equal to the gateway's VPNs (as the gateway sees them)."""
    return [
        PeerConfig(
            str(t["name"]),
            int(str(t["version"])),
            str(t["local_id"]),
            str(t["remote_id"]),
            tuple(parse_ike_proposal(str(n)) for n in t["ike_proposals"]),  # type: ignore[attr-defined]
            tuple(parse_child_proposal(str(n)) for n in t["child_proposals"]),  # type: ignore[attr-defined]
            ipaddress.IPv4Network(str(t["local_ts"])),
            ipaddress.IPv4Network(str(t["remote_ts"])),
            psk=PSK,
            aggressive=bool(t.get("aggressive", False)),
        )
        for t in vpn_tables(aggressive)
    ]


def peak_rss_kib(fallback: int) -> int:
    """This process's own peak RSS (VmHWM).  ``ru_maxrss`` is no use here: Linux carries the
    high-water mark of the forking parent (pytest, hundreds of MiB) across ``execve``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return fallback


async def _main(options: dict[str, object]) -> None:
    config = load_config(
        None,
        ports=EPHEMERAL,
        seed="f100d" * 8,
        vpn=vpn_tables(bool(options.get("aggressive", False))),
        max_half_open=int(str(options.get("max_half_open", 32))),
    )
    gateway = Gateway(config, image=build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q))
    await gateway.start()
    assert gateway.vpn is not None
    print(json.dumps({"ike": gateway.ports["ike"], "natt": gateway.ports["natt"]}), flush=True)
    peak = {"half_open": 0, "sas": 0}
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    core = gateway.vpn.core
    while not stdin_closed.done():
        peak["half_open"] = max(peak["half_open"], core.half_open)
        peak["sas"] = max(peak["sas"], len(core._sas))  # test instrumentation
        await asyncio.sleep(0.02)
    received = gateway.vpn.received
    await gateway.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "peak_half_open": peak["half_open"],
        "peak_sas": peak["sas"],
        "hard_cap": core._admission.hard_cap,  # test instrumentation
        "received": received,
        "peak_rss_kib": peak_rss_kib(usage.ru_maxrss),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(_main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))

"""The gateway seals its event log on a timer while idle, and at shutdown."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime

import pytest

from kleptolab.defend.eventlog_format import parse_lines
from kleptolab.defend.logseal import verify_events
from kleptolab.device.config import load_config
from kleptolab.device.firmware import build_image
from kleptolab.device.gateway import Gateway
from kleptolab.device.sealing import setup_keys
from kleptolab.drbg.trapdoor import generate_trapdoor

pytestmark = pytest.mark.network


def test_idle_gateway_writes_timer_seals_and_verifies() -> None:
    now = [1795000000.0]
    cfg = load_config(None, ports={"ike": 0, "natt": 0, "ssh": 0, "telnet": 0}, seed="5eed" * 16)
    sealer, key = setup_keys(
        random.Random(2).randbytes, device_id=cfg.serial, interval=10, start=now[0]
    )
    image = build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q)
    gateway = Gateway(cfg, image=image, clock=lambda: now[0], refill_interval=0.01, sealer=sealer)

    async def main() -> None:
        await gateway.start()
        try:
            for _ in range(7):  # 35 s of silence on the device's clock
                now[0] += 5
                await asyncio.sleep(0.05)
        finally:
            await gateway.stop()

    asyncio.run(main())
    lines = gateway.event_lines()
    seals = [line for line in lines if " fss notif 00000 seal " in line]
    assert len(seals) >= 4  # three timer seals while idle, one at shutdown
    assert all(" mac=" in line for line in lines if line not in seals)
    alerts = verify_events(parse_lines(lines, "event.log").events, key)
    assert [a for a in alerts if a.severity in ("high", "critical", "medium")] == []
    collector_clock = datetime.fromtimestamp(now[0])  # the gateway logs local time
    whole = verify_events(parse_lines(lines, "event.log").events, key, now=collector_clock)
    assert [a for a in whole if a.severity == "high"] == []
    cut = verify_events(parse_lines(lines[:-3], "event.log").events, key, now=collector_clock)
    assert any(a.severity == "high" for a in cut)

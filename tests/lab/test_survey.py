"""The defender's nonce survey against a real lab gateway on loopback (small counts)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kleptolab.lab.scenarios import DEFAULT_PSK, IKEV1, IKEV2
from kleptolab.lab.survey import SurveyResult, nonce_survey

pytestmark = pytest.mark.network


async def _with_gateway(tmp_path: Path, max_half_open: int, survey: tuple[int, float]) -> SurveyResult:
    from kleptolab.device.config import load_config
    from kleptolab.device.firmware import build_image
    from kleptolab.device.gateway import Gateway
    from kleptolab.lab.demo import seeded_trapdoor

    image = tmp_path / "fw.img"
    image.write_bytes(build_image("6.3.0r20", trapdoor_q=seeded_trapdoor(1).q))
    config = load_config(None, firmware=str(image), seed="11" * 32, listen="127.0.0.1",
                         ports={"ike": 0, "natt": 0, "ssh": 0, "telnet": 0}, max_half_open=max_half_open,
                         vpn=[IKEV2.gateway_table(DEFAULT_PSK)])
    gateway = Gateway(config)
    await gateway.start()
    try:
        count, budget = survey
        result = await nonce_survey(("127.0.0.1", gateway.ports["ike"]), IKEV2, count, window=4, budget=budget)
        # the gateway kept every probe half-open: the survey never completes an exchange
        assert not any("done" in row for row in gateway.vpn.ike_cookies())
        return result
    finally:
        await gateway.stop()


def test_survey_collects_one_nonce_per_probe_and_answers_cookies(tmp_path: Path) -> None:
    """max_half_open 8 → 2 half-open SAs per peer: the rest of the probes take the COOKIE path."""
    result = asyncio.run(_with_gateway(tmp_path, 8, (12, 30.0)))
    assert (result.sent, result.answered) == (12, 12)
    assert result.nonce_lengths == {32: 12}
    assert result.cookies >= 10 and result.stopped == ""


def test_survey_is_bounded_in_time(tmp_path: Path) -> None:
    result = asyncio.run(_with_gateway(tmp_path, 32, (500, 0.0)))
    assert result.sent == 0 and "time budget" in result.stopped


def test_survey_speaks_ikev2_only() -> None:
    with pytest.raises(ValueError, match="IKEv2"):
        asyncio.run(nonce_survey(("127.0.0.1", 9), IKEV1, 1))

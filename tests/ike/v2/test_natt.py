"""NAT detection hashes against strongSwan's log, and the detection logic."""

from __future__ import annotations

import pytest

from kleptolab.ike.common import NatStatus
from kleptolab.ike.v2.constants import NotifyType
from kleptolab.ike.v2.natt import detect_nat, nat_detection_hash, nat_detection_notifies
from kleptolab.ike.v2.payloads import NotifyPayload, parse_message
from tests.ike.v2.helpers import STRONGSWAN_V2, strongswan_case


@pytest.mark.parametrize("name", STRONGSWAN_V2)
def test_hashes_match_charon(name: str) -> None:
    case = strongswan_case(name)
    for chunk, digest in zip(case.logged["natd_chunk"], case.logged["natd_hash"], strict=True):
        ip = ".".join(str(b) for b in chunk[16:20])
        assert nat_detection_hash(chunk[:8], chunk[8:16], (ip, int.from_bytes(chunk[20:22], "big"))) == digest
    # the captured request carries exactly the logged hashes
    request = parse_message(case.messages[0])
    carried = [p.data for p in request.payloads if isinstance(p, NotifyPayload)
               and p.notify_type in (NotifyType.NAT_DETECTION_SOURCE_IP, NotifyType.NAT_DETECTION_DESTINATION_IP)]
    assert carried == case.logged["natd_hash"][:2]


def test_charon_faked_nat_is_detected_from_the_response() -> None:
    case = strongswan_case(STRONGSWAN_V2[0])
    response = parse_message(case.messages[1])
    notifies = [p for p in response.payloads if isinstance(p, NotifyPayload)]
    sources = [p.data for p in notifies if p.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP]
    (dest,) = [p.data for p in notifies if p.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP]
    status = detect_nat(response.spi_i, response.spi_r, ("192.0.2.2", 500), ("192.0.2.1", 500), sources, dest)
    # charon (libipsec) faked its source hash; our own address matched.
    assert status == NatStatus(local_behind_nat=False, remote_behind_nat=True) and status.detected


def test_notifies_and_force_nat() -> None:
    spi_i, spi_r = b"a" * 8, bytes(8)
    src, dst = nat_detection_notifies(spi_i, spi_r, ("10.0.0.1", 500), ("10.0.0.2", 500))
    assert src.data == nat_detection_hash(spi_i, spi_r, ("10.0.0.1", 500))
    assert dst.data == nat_detection_hash(spi_i, spi_r, ("10.0.0.2", 500))
    fake, _ = nat_detection_notifies(spi_i, spi_r, ("10.0.0.1", 500), ("10.0.0.2", 500), force_nat=True)
    assert fake.data != src.data and len(fake.data) == 20
    seen = detect_nat(spi_i, spi_r, ("10.0.0.2", 500), ("10.0.0.1", 500), [fake.data], dst.data)
    assert seen == NatStatus(False, True)
    clean = detect_nat(spi_i, spi_r, ("10.0.0.2", 500), ("10.0.0.1", 500), [src.data], dst.data)
    assert clean == NatStatus(False, False) and not clean.detected
    assert detect_nat(spi_i, spi_r, ("10.0.0.2", 500), ("10.0.0.1", 500), [], None) is None
    with pytest.raises(ValueError):
        nat_detection_hash(spi_i, spi_r, ("10.0.0.1", 70000))

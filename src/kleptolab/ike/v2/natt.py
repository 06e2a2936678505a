"""IKEv2 NAT traversal (RFC 7296 §2.23): NAT_DETECTION_*_IP notifies and what they imply.

Hash = SHA1(SPIi | SPIr | IP | port), with the SPIs of the message carrying
the notify (SPIr is zero in the IKE_SA_INIT request).  A SOURCE hash that
matches none of the peer's addresses as we see it means the peer is behind
a NAT; a DESTINATION hash that differs from our own address means we are.
``force_nat`` sends a deliberately wrong SOURCE hash, as strongSwan's
libipsec does, so that both sides encapsulate ESP in UDP.

What the I/O layer must do once an engine reports ``nat_detected`` (or
``float_to_4500``) after IKE_SA_INIT:

- send every later IKE message from local UDP port 4500 to the peer's port
  4500, prefixed with the 4-byte zero non-ESP marker, and strip that marker
  from what arrives on 4500 before calling ``receive``;
- as responder, answer each request to the address and port it came from;
- for every child SA with ``ChildSaKeys.udp_encapsulated`` set, send and
  accept ESP inside UDP 4500 (RFC 3948), and send 1-byte 0xFF NAT keepalives
  when idle.
"""

from __future__ import annotations

import hashlib
import ipaddress

from kleptolab.ike.common import NatStatus
from kleptolab.ike.v2.constants import NotifyType
from kleptolab.ike.v2.payloads import NotifyPayload

Address = tuple[str, int]
"""(IPv4 address as text, UDP port)."""

NATT_PORT = 4500
NON_ESP_MARKER = b"\x00\x00\x00\x00"
_FAKE = b"kleptolab: fake NAT"


def nat_detection_hash(spi_i: bytes, spi_r: bytes, address: Address) -> bytes:
    """SHA1(SPIi | SPIr | IP | port) for one IPv4 address and port."""
    ip, port = address
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} out of range")
    packed = ipaddress.IPv4Address(ip).packed
    return hashlib.sha1(spi_i + spi_r + packed + port.to_bytes(2, "big")).digest()


def nat_detection_notifies(
    spi_i: bytes, spi_r: bytes, local: Address, remote: Address, force_nat: bool = False
) -> tuple[NotifyPayload, NotifyPayload]:
    """The SOURCE_IP and DESTINATION_IP notifies for a message from ``local`` to ``remote``.

    With ``force_nat`` the source hash is deliberately wrong (deterministic, no
    randomness drawn), so the peer concludes we are behind a NAT.
    """
    source = nat_detection_hash(spi_i, spi_r, local)
    if force_nat:
        source = hashlib.sha1(_FAKE + source).digest()
    return (
        NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, source),
        NotifyPayload(NotifyType.NAT_DETECTION_DESTINATION_IP, nat_detection_hash(spi_i, spi_r, remote)),
    )


def detect_nat(
    spi_i: bytes, spi_r: bytes, local: Address, remote: Address,
    source_hashes: list[bytes], destination_hash: bytes | None, force_nat: bool = False,
) -> NatStatus | None:
    """Compare the peer's NAT-D hashes with our view; None when the peer sent none."""
    if not source_hashes and destination_hash is None:
        return None
    expected_source = nat_detection_hash(spi_i, spi_r, remote)
    remote_nat = expected_source not in source_hashes
    local_nat = force_nat or (
        destination_hash is not None and destination_hash != nat_detection_hash(spi_i, spi_r, local)
    )
    return NatStatus(local_nat, remote_nat)

"""Recognise an IKE message by its content alone, on any UDP port.

On UDP 500/4500 any datagram is IKE (or NAT-T ESP) by convention; elsewhere
the bytes must prove it.  :func:`strict_ike_header` accepts a message only
when every field a real IKE message fixes holds: version 1.0 or 2.0, a known
exchange type, only defined flag bits, a non-zero initiator SPI, the header's
length equal to the datagram's, and a chain of generic payload headers with
known types and zero reserved bits that ends exactly at that length (for an
encrypted IKEv1 message, whose chain is hidden, a body of whole cipher
blocks).  Random data passes the length check alone with probability 2^-32;
DNS, syslog and other UDP traffic fail the version and exchange checks.

Sources: RFC 2408 §3.1-3.2 (ISAKMP header, generic payload header, payload
and exchange types), RFC 2409 §5 (Quick Mode 32, New Group Mode 33), RFC 3947
(NAT-D 20, NAT-OA 21), RFC 7296 §3.1-3.2 (IKEv2 header, flags, payload types),
RFC 5723 (IKE_SESSION_RESUME 38), RFC 7383 (SKF 53), RFC 8019 (PS 54),
RFC 9242 (IKE_INTERMEDIATE 43), RFC 9370 (IKE_FOLLOWUP_KE 44), RFC 3948 §2.2
(the non-ESP marker before IKE on the NAT-T port).
"""

from __future__ import annotations

from kleptolab.ike.wire import IkeHeader, WireError

__all__ = ["V1_EXCHANGES", "V2_EXCHANGES", "strict_ike_header"]

V1_EXCHANGES = frozenset({1, 2, 3, 4, 5, 6, 32, 33})
"""Base, Identity Protection (Main), Authentication Only, Aggressive, Informational, Transaction
(Mode Config / XAUTH, draft-ietf-ipsec-isakmp-mode-cfg), Quick, New Group."""
V2_EXCHANGES = frozenset({34, 35, 36, 37, 38, 43, 44})
V1_PAYLOADS = frozenset({*range(0, 14), 20, 21, 130, 131})
"""RFC 2408 types 0-13, RFC 3947 NAT-D/NAT-OA, and the NAT-T drafts' 130/131."""
V2_PAYLOADS = frozenset({0, *range(33, 49), 53, 54})
V1_FLAGS = 0x07  # Encryption, Commit, Authentication Only
V2_FLAGS = 0x38  # Initiator, Version, Response
V1_ENCRYPTED = 0x01
V2_ENCRYPTED = frozenset({46, 53})  # SK and SKF: always the last payload
CIPHER_BLOCK = 8  # DES/3DES blocks; AES's 16 is a multiple


def strict_ike_header(message: bytes) -> IkeHeader | None:
    """The header of ``message`` if it is, field by field, one whole IKE message; else None."""
    if len(message) < IkeHeader.SIZE or message[17] not in (0x10, 0x20):
        return None  # the cheap test first: most UDP fails the version byte
    try:
        header = IkeHeader.parse(message)
    except WireError:
        return None
    if header.length != len(message) or header.spi_i == bytes(8):
        return None
    version = (header.major_version, header.minor_version)
    if version == (1, 0):
        exchanges, payloads, flags = V1_EXCHANGES, V1_PAYLOADS, V1_FLAGS
    elif version == (2, 0):
        exchanges, payloads, flags = V2_EXCHANGES, V2_PAYLOADS, V2_FLAGS
    else:
        return None
    if header.exchange_type not in exchanges or header.flags & ~flags:
        return None
    if header.next_payload not in payloads:
        return None
    if header.major_version == 1 and header.flags & V1_ENCRYPTED:
        body = len(message) - IkeHeader.SIZE
        return (
            header if body > 0 and body % CIPHER_BLOCK == 0 and header.next_payload != 0 else None
        )
    return header if _chain_ends_at(message, header.next_payload, payloads) else None


def _chain_ends_at(message: bytes, first: int, payloads: frozenset[int]) -> bool:
    """Walk the generic payload headers from the IKE header; True if they tile the message."""
    pos, kind = IkeHeader.SIZE, first
    while kind != 0:
        if pos + 4 > len(message):
            return False
        nxt, reserved = message[pos], message[pos + 1]
        size = int.from_bytes(message[pos + 2 : pos + 4], "big")
        if size < 4 or reserved & 0x7F or nxt not in payloads:
            return False
        pos += size
        if kind in V2_ENCRYPTED and payloads is V2_PAYLOADS:
            break  # what follows SK/SKF is ciphertext; it must run to the end
        kind = nxt
    return pos == len(message)

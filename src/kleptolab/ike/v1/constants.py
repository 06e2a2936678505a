"""ISAKMP / IKEv1 numbers (RFC 2407, 2408, 2409, 3947) and vendor IDs, as data."""

from __future__ import annotations

from enum import IntEnum

from kleptolab.crypto.algorithms import Encr, Integ, Prf

ISAKMP_VERSION = 0x10
"""Major version 1, minor version 0."""

DOI_IPSEC = 1
SIT_IDENTITY_ONLY = 1


class Exchange(IntEnum):
    BASE = 1
    MAIN_MODE = 2  # Identity Protection
    AUTH_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6  # Mode Config / XAUTH
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33


class PayloadType(IntEnum):
    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFY = 11
    DELETE = 12
    VENDOR_ID = 13
    ATTRIBUTE = 14  # Mode Config (draft-dukes-ike-mode-cfg)
    NAT_D = 20  # RFC 3947
    NAT_OA = 21
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-02/03
    NAT_OA_DRAFT = 131


class Protocol(IntEnum):
    ISAKMP = 1
    AH = 2
    ESP = 3
    IPCOMP = 4


KEY_IKE = 1
"""The only phase-1 transform ID."""


class P1Attr(IntEnum):
    """Phase-1 SA attribute classes (RFC 2409 App. A)."""

    ENCRYPTION = 1
    HASH = 2
    AUTH_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME = 6
    GROUP_GENERATOR_ONE = 7
    GROUP_GENERATOR_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


class P2Attr(IntEnum):
    """IPsec DOI SA attributes (RFC 2407 §4.5)."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3
    ENCAPSULATION_MODE = 4
    AUTH_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICT_SIZE = 8
    COMPRESS_PRIVATE_ALG = 9


LIFE_SECONDS = 1
LIFE_KILOBYTES = 2


class P1Encr(IntEnum):
    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_CBC = 4
    TDES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7


class P1Hash(IntEnum):
    MD5 = 1
    SHA1 = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class P1Auth(IntEnum):
    PSK = 1
    DSS_SIG = 2
    RSA_SIG = 3
    RSA_ENC = 4
    RSA_REV_ENC = 5
    XAUTH_INIT_PSK = 65001
    XAUTH_RESP_PSK = 65002
    XAUTH_INIT_RSA = 65005
    XAUTH_RESP_RSA = 65006


class EspTransform(IntEnum):
    DES = 2
    TDES = 3
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13


class AuthAlg(IntEnum):
    HMAC_MD5 = 1
    HMAC_SHA1 = 2
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7


class EncapMode(IntEnum):
    TUNNEL = 1
    TRANSPORT = 2
    UDP_TUNNEL = 3  # RFC 3947
    UDP_TRANSPORT = 4
    UDP_TUNNEL_DRAFT = 61443  # draft-ietf-ipsec-nat-t-ike-00..08
    UDP_TRANSPORT_DRAFT = 61444


UDP_ENCAP_MODES = frozenset(
    {
        EncapMode.UDP_TUNNEL,
        EncapMode.UDP_TRANSPORT,
        EncapMode.UDP_TUNNEL_DRAFT,
        EncapMode.UDP_TRANSPORT_DRAFT,
    }
)


class IdType(IntEnum):
    IPV4_ADDR = 1
    FQDN = 2
    USER_FQDN = 3
    IPV4_ADDR_SUBNET = 4
    IPV6_ADDR = 5
    IPV6_ADDR_SUBNET = 6
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8
    DER_ASN1_DN = 9
    DER_ASN1_GN = 10
    KEY_ID = 11


class CertEncoding(IntEnum):
    PKCS7 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIGNATURE = 4
    X509_KEY_EXCHANGE = 5
    KERBEROS = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTRIBUTE = 10


class Notify(IntEnum):
    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137


ERROR_NOTIFY_LIMIT = 16384
"""Notify types below this are errors (RFC 2408 §3.14.1)."""

# --- algorithm mappings between the wire numbers and the crypto façade ----------------------

P1_ENCR: dict[int, Encr] = {
    P1Encr.DES_CBC: Encr.DES_CBC,
    P1Encr.TDES_CBC: Encr.TDES_CBC,
    P1Encr.AES_CBC: Encr.AES_CBC,
}
P1_HASH: dict[int, Prf] = {
    P1Hash.MD5: Prf.HMAC_MD5,
    P1Hash.SHA1: Prf.HMAC_SHA1,
    P1Hash.SHA2_256: Prf.HMAC_SHA2_256,
    P1Hash.SHA2_384: Prf.HMAC_SHA2_384,
    P1Hash.SHA2_512: Prf.HMAC_SHA2_512,
}
PRF_INTEG: dict[Prf, Integ] = {
    Prf.HMAC_MD5: Integ.HMAC_MD5_96,
    Prf.HMAC_SHA1: Integ.HMAC_SHA1_96,
    Prf.HMAC_SHA2_256: Integ.HMAC_SHA2_256_128,
    Prf.HMAC_SHA2_384: Integ.HMAC_SHA2_384_192,
    Prf.HMAC_SHA2_512: Integ.HMAC_SHA2_512_256,
}
"""The integrity algorithm reported for a phase-1 hash (IKEv1 has no separate MAC)."""

ESP_ENCR: dict[int, Encr] = {
    EspTransform.DES: Encr.DES_CBC,
    EspTransform.TDES: Encr.TDES_CBC,
    EspTransform.AES_CBC: Encr.AES_CBC,
    EspTransform.AES_CTR: Encr.AES_CTR,
}
ESP_AUTH: dict[int, Integ] = {
    AuthAlg.HMAC_MD5: Integ.HMAC_MD5_96,
    AuthAlg.HMAC_SHA1: Integ.HMAC_SHA1_96,
    AuthAlg.HMAC_SHA2_256: Integ.HMAC_SHA2_256_128,
    AuthAlg.HMAC_SHA2_384: Integ.HMAC_SHA2_384_192,
    AuthAlg.HMAC_SHA2_512: Integ.HMAC_SHA2_512_256,
}

# --- vendor IDs ---------------------------------------------------------------------------

VID_NATT_RFC3947 = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # MD5("RFC 3947")
VID_NATT_DRAFT_02 = bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448")
VID_NATT_DRAFT_02N = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")  # with the stray "\n"
VID_NATT_DRAFT_03 = bytes.fromhex("7d9419a65310ca6f2c179d9215529d56")
NATT_DRAFT_VIDS = frozenset({VID_NATT_DRAFT_02, VID_NATT_DRAFT_02N, VID_NATT_DRAFT_03})

VID_DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706, version 1.0
VID_HEARTBEAT_NOTIFY = bytes.fromhex("4865617274426561745f4e6f74696679386b0100")

NETSCREEN_VIDS: dict[str, bytes] = {
    # ike-scan 1.9.5 ``ike-vendor-ids``: the first 20 bytes of ScreenOS vendor IDs.  ScreenOS
    # appends 8 bytes (two big-endian words, the second the ScreenOS version, e.g. 0x00000500).
    "Netscreen-01": bytes.fromhex("299ee8289f40a8973bc78687e2e7226b532c3b76"),
    "Netscreen-02": bytes.fromhex("3a15e1f3cf2a63582e3ac82d1c64cbe3b6d779e7"),
    "Netscreen-03": bytes.fromhex("47d2b126bfcd83489760e2cf8c5d4d5a03497c15"),
    "Netscreen-04": bytes.fromhex("4a4340b543e02b84c88a8b96a8af9ebe77d9accc"),
    "Netscreen-05": bytes.fromhex("64405f46f03b7660a23be116a1975058e69e8387"),
    "Netscreen-06": bytes.fromhex("699369228741c6d4ca094c93e242c9de19e7b7c6"),
    "Netscreen-07": bytes.fromhex("8c0dc6cf62a0ef1b5c6eabd1b67ba69866adf16a"),
    "Netscreen-08": bytes.fromhex("92d27a9ecb31d99246986d3453d0c3d57a222a61"),
    "Netscreen-09": bytes.fromhex("9b096d9ac3275a7d6fe8b91c583111b09efed1a0"),
    "Netscreen-10": bytes.fromhex("bf03746108d746c904f1f3547de24f78479fed12"),
    "Netscreen-11": bytes.fromhex("c2e80500f4cc5fbf5daaeed3bb59abaeee56c652"),
    "Netscreen-12": bytes.fromhex("c8660a62b03b1b6130bf781608d32a6a8d0fb89f"),
    "Netscreen-13": bytes.fromhex("f885da40b1e7a9abd17655ec5bbec0f21f0ed52e"),
    "Netscreen-14": bytes.fromhex("2a2bcac19b8e91b426107807e02e7249569d6fd3"),
    "Netscreen-15": bytes.fromhex("166f932d55eb64d8e4df4fd37e2313f0d0fd8451"),
    "Netscreen-16": bytes.fromhex("a35bfd05ca1ac0b3d2f24e9e82bfcbff9c9e52b5"),
    "Netscreen-16b": bytes.fromhex("9436e8d67174ef9aed068d5ad5213f187a3f8ba6"),
}
"""ike-scan's NetScreen fingerprints (its file lists the last one twice as ``Netscreen-16``)."""

SCREENOS_VID_SUFFIX_6X = bytes.fromhex("0000000b00000600")
"""A plausible 8-byte ScreenOS suffix (flags word, version 6.0); ike-scan ignores it."""


def screenos_vendor_ids() -> tuple[bytes, ...]:
    """Vendor IDs a ScreenOS 6.x gateway sends: a NetScreen VID, Heartbeat Notify and DPD."""
    return (
        NETSCREEN_VIDS["Netscreen-15"] + SCREENOS_VID_SUFFIX_6X,
        VID_HEARTBEAT_NOTIFY,
        VID_DPD,
    )

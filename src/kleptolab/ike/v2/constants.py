"""IANA registries for IKEv2 (RFC 7296 §3, IANA "IKEv2 Parameters") and their mapping
onto the lab's algorithm enums in :mod:`kleptolab.crypto.algorithms`."""

from __future__ import annotations

from enum import IntEnum

from kleptolab.crypto.algorithms import Encr, Integ, Prf

IKEV2_VERSION = 0x20
"""Major version 2, minor version 0, as one header byte."""

ATTR_KEY_LENGTH = 14
"""Transform attribute 14: key length in bits (always TV format)."""


class PayloadType(IntEnum):
    """Next-payload values (RFC 7296 §3.2)."""

    NONE = 0
    SA = 33
    KE = 34
    IDI = 35
    IDR = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSI = 44
    TSR = 45
    SK = 46
    CP = 47
    EAP = 48
    SKF = 53


class ExchangeType(IntEnum):
    """Exchange types (RFC 7296 §3.1)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37


class NotifyType(IntEnum):
    """Notify message types: errors below 16384, status types from 16384."""

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    MULTIPLE_AUTH_SUPPORTED = 16404
    REDIRECT_SUPPORTED = 16406
    IKEV2_FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431


class ProtocolId(IntEnum):
    """Security protocol identifiers (proposals, notifies, deletes)."""

    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3


class TransformType(IntEnum):
    """Transform types (RFC 7296 §3.3.2)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5


class EncrId(IntEnum):
    """Transform type 1 IDs."""

    DES = 2
    TDES = 3
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20


class PrfId(IntEnum):
    """Transform type 2 IDs."""

    HMAC_MD5 = 1
    HMAC_SHA1 = 2
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7


class IntegId(IntEnum):
    """Transform type 3 IDs."""

    NONE = 0
    HMAC_MD5_96 = 1
    HMAC_SHA1_96 = 2
    HMAC_MD5_128 = 6
    HMAC_SHA1_160 = 7
    HMAC_SHA2_256_128 = 12
    HMAC_SHA2_384_192 = 13
    HMAC_SHA2_512_256 = 14


class AuthMethodId(IntEnum):
    """AUTH payload methods (RFC 7296 §3.8)."""

    RSA_SIG = 1
    SHARED_KEY_MIC = 2
    DSS_SIG = 3
    ECDSA_256 = 9
    ECDSA_384 = 10
    ECDSA_521 = 11
    DIGITAL_SIGNATURE = 14


class IdType(IntEnum):
    """Identification payload types (RFC 7296 §3.5)."""

    IPV4_ADDR = 1
    FQDN = 2
    RFC822_ADDR = 3
    IPV6_ADDR = 5
    DER_ASN1_DN = 9
    DER_ASN1_GN = 10
    KEY_ID = 11


class CertEncoding(IntEnum):
    """CERT / CERTREQ encodings (RFC 7296 §3.6)."""

    X509_SIGNATURE = 4
    CRL = 7
    HASH_URL_X509 = 12


class TsType(IntEnum):
    """Traffic selector types (RFC 7296 §3.13.1)."""

    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8


class CfgType(IntEnum):
    """Configuration payload types (RFC 7296 §3.15)."""

    REQUEST = 1
    REPLY = 2
    SET = 3
    ACK = 4


ENCR_IDS: dict[Encr, EncrId] = {
    Encr.DES_CBC: EncrId.DES,
    Encr.TDES_CBC: EncrId.TDES,
    Encr.AES_CBC: EncrId.AES_CBC,
    Encr.AES_CTR: EncrId.AES_CTR,
}
"""Ciphers whose key length is implied (DES, 3DES) need no key-length attribute."""

FIXED_KEY_ENCR = frozenset({Encr.DES_CBC, Encr.TDES_CBC})

INTEG_IDS: dict[Integ, IntegId] = {
    Integ.HMAC_MD5_96: IntegId.HMAC_MD5_96,
    Integ.HMAC_SHA1_96: IntegId.HMAC_SHA1_96,
    Integ.HMAC_SHA1_160: IntegId.HMAC_SHA1_160,
    Integ.HMAC_SHA2_256_128: IntegId.HMAC_SHA2_256_128,
    Integ.HMAC_SHA2_384_192: IntegId.HMAC_SHA2_384_192,
    Integ.HMAC_SHA2_512_256: IntegId.HMAC_SHA2_512_256,
}

PRF_IDS: dict[Prf, PrfId] = {
    Prf.HMAC_MD5: PrfId.HMAC_MD5,
    Prf.HMAC_SHA1: PrfId.HMAC_SHA1,
    Prf.HMAC_SHA2_256: PrfId.HMAC_SHA2_256,
    Prf.HMAC_SHA2_384: PrfId.HMAC_SHA2_384,
    Prf.HMAC_SHA2_512: PrfId.HMAC_SHA2_512,
}


def encr_from_id(transform_id: int) -> Encr:
    """Map an ENCR transform ID to :class:`Encr`; ``ValueError`` when the lab lacks it."""
    for encr, ident in ENCR_IDS.items():
        if ident == transform_id:
            return encr
    raise ValueError(f"unsupported IKEv2 encryption transform {transform_id}")


def integ_from_id(transform_id: int) -> Integ:
    """Map an INTEG transform ID to :class:`Integ`; ``ValueError`` when the lab lacks it."""
    for integ, ident in INTEG_IDS.items():
        if ident == transform_id:
            return integ
    raise ValueError(f"unsupported IKEv2 integrity transform {transform_id}")


def prf_from_id(transform_id: int) -> Prf:
    """Map a PRF transform ID to :class:`Prf`; ``ValueError`` when the lab lacks it."""
    for prf, ident in PRF_IDS.items():
        if ident == transform_id:
            return prf
    raise ValueError(f"unsupported IKEv2 PRF transform {transform_id}")

"""IKE_AUTH authentication: AUTH payloads for PSK and RSA signatures, certificates.

``make_auth`` / ``check_auth`` wrap :mod:`kleptolab.ike.v2.keys` with the
choice of method and the certificate checks: the peer certificate must be
directly issued by the configured CA and name the peer's identity (subject
alternative name DNS/e-mail/IP, or the subject CN).  Certificate validity
dates are not checked (the engines have no clock).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from kleptolab.crypto.algorithms import Prf
from kleptolab.ike.common import AuthMethod, PeerConfig
from kleptolab.ike.v2.constants import AuthMethodId, CertEncoding, IdType
from kleptolab.ike.v2.keys import psk_auth, rsa_sign, rsa_verify
from kleptolab.ike.v2.payloads import AuthPayload, CertPayload, CertReqPayload

METHOD_IDS = {AuthMethod.PSK: AuthMethodId.SHARED_KEY_MIC, AuthMethod.RSA_SIG: AuthMethodId.RSA_SIG}


class AuthenticationFailed(ValueError):
    """The peer's AUTH payload, certificate or identity does not check out."""


def ca_key_hash(ca_der: bytes) -> bytes:
    """SHA-1 of the CA's SubjectPublicKeyInfo, as carried in CERTREQ (RFC 7296 §3.7)."""
    ca = x509.load_der_x509_certificate(ca_der)
    spki = ca.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki).digest()


def certreq_for(config: PeerConfig) -> CertReqPayload | None:
    """A CERTREQ naming the config's trusted CA, if it has one."""
    if config.trusted_ca_der is None:
        return None
    return CertReqPayload(CertEncoding.X509_SIGNATURE, ca_key_hash(config.trusted_ca_der))


def make_auth(method: AuthMethod, config: PeerConfig, prf: Prf, octets: bytes) -> AuthPayload:
    """Our AUTH payload over ``octets`` (the signed octets of RFC 7296 §2.15)."""
    if method is AuthMethod.PSK:
        if config.psk is None:
            raise ValueError(f"config {config.name!r} uses PSK but has no psk")
        return AuthPayload(AuthMethodId.SHARED_KEY_MIC, psk_auth(prf, config.psk, octets))
    if config.rsa_key_pem is None or config.certificate_der is None:
        raise ValueError(f"config {config.name!r} uses RSA signatures but lacks a key or certificate")
    return AuthPayload(AuthMethodId.RSA_SIG, rsa_sign(config.rsa_key_pem, octets))


def our_cert(method: AuthMethod, config: PeerConfig) -> CertPayload | None:
    """The CERT payload to send with an RSA signature."""
    if method is AuthMethod.RSA_SIG and config.certificate_der is not None:
        return CertPayload(CertEncoding.X509_SIGNATURE, config.certificate_der)
    return None


def check_auth(
    method: AuthMethod, config: PeerConfig, prf: Prf, octets: bytes, auth: AuthPayload,
    certs: list[CertPayload], peer_id: tuple[int, bytes],
) -> None:
    """Verify the peer's AUTH; raise :class:`AuthenticationFailed` with the reason."""
    if auth.kind != METHOD_IDS[method]:
        raise AuthenticationFailed(f"peer used auth method {auth.kind}, config expects {method.value}")
    if method is AuthMethod.PSK:
        if config.psk is None:
            raise AuthenticationFailed("no PSK configured")
        if not _equal(psk_auth(prf, config.psk, octets), auth.data):
            raise AuthenticationFailed("PSK AUTH payload does not match")
        return
    if config.trusted_ca_der is None:
        raise AuthenticationFailed("no trusted CA configured for RSA signatures")
    certs = [c for c in certs if c.encoding == CertEncoding.X509_SIGNATURE]
    if not certs:
        raise AuthenticationFailed("peer sent no X.509 certificate")
    check_certificate(certs[0].data, config.trusted_ca_der, peer_id)
    if not rsa_verify(certs[0].data, octets, auth.data):
        raise AuthenticationFailed("RSA signature in AUTH does not verify")


def check_certificate(cert_der: bytes, ca_der: bytes, peer_id: tuple[int, bytes]) -> None:
    """The certificate is issued by ``ca_der`` and names ``peer_id`` (type, data)."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        ca = x509.load_der_x509_certificate(ca_der)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise AuthenticationFailed(f"certificate not issued by the trusted CA: {exc}") from None
    kind, data = peer_id
    if kind == IdType.DER_ASN1_DN:
        if cert.subject.public_bytes() != data:
            raise AuthenticationFailed("certificate subject differs from the peer's DN identity")
        return
    names: set[str] = set()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names |= set(san.get_values_for_type(x509.DNSName))
        names |= set(san.get_values_for_type(x509.RFC822Name))
        names |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        pass
    names |= {str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    wanted = str(ipaddress.IPv4Address(data)) if kind == IdType.IPV4_ADDR else data.decode("utf-8", "replace")
    if wanted not in names:
        raise AuthenticationFailed(f"certificate does not name the peer identity {wanted!r}")


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)

"""Phase-1 identities, RSA signatures and certificates, plus a lab CA for tests and demos.

IKEv1 RSA signatures (RFC 2409 §5.1) are PKCS#1 v1.5 type-1 blocks over the
raw HASH_I/HASH_R, *without* an ASN.1 DigestInfo (that is what ScreenOS,
strongSwan and OpenSwan put on the wire).  Certificates are checked against
the configured CA and the peer's ID; validity dates are not checked here
(the engine has no clock).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from kleptolab.ike.v1.constants import IdType
from kleptolab.ike.v1.payloads import IdPayload
from kleptolab.ike.wire import WireError


class AuthenticationError(ValueError):
    """A signature, certificate or identity did not verify."""


# --- identities ---------------------------------------------------------------------------


def id_payload(identity: str) -> IdPayload:
    """Phase-1 ID: an IPv4 address, ``user@fqdn`` (USER_FQDN) or an FQDN."""
    try:
        return IdPayload(IdType.IPV4_ADDR, 0, 0, ipaddress.IPv4Address(identity).packed)
    except ValueError:
        pass
    kind = IdType.USER_FQDN if "@" in identity else IdType.FQDN
    return IdPayload(kind, 0, 0, identity.encode("ascii"))


def identity_of(payload: IdPayload) -> str:
    """The textual identity of a phase-1 ID payload."""
    if payload.id_type == IdType.IPV4_ADDR and len(payload.data) == 4:
        return str(ipaddress.IPv4Address(payload.data))
    if payload.id_type in (IdType.FQDN, IdType.USER_FQDN):
        try:
            return payload.data.decode("ascii")
        except UnicodeDecodeError:
            raise WireError("ID payload: FQDN is not ASCII") from None
    return f"id{payload.id_type}:{payload.data.hex()}"


def ts_id_payload(network: ipaddress.IPv4Network) -> IdPayload:
    """Quick Mode client ID: IPV4_ADDR for a /32, IPV4_ADDR_SUBNET otherwise."""
    if network.prefixlen == 32:
        return IdPayload(IdType.IPV4_ADDR, 0, 0, network.network_address.packed)
    return IdPayload(
        IdType.IPV4_ADDR_SUBNET, 0, 0, network.network_address.packed + network.netmask.packed
    )


def ts_of(payload: IdPayload) -> ipaddress.IPv4Network:
    """The IPv4 network of a Quick Mode client ID; :class:`WireError` for other kinds."""
    try:
        if payload.id_type == IdType.IPV4_ADDR and len(payload.data) == 4:
            return ipaddress.IPv4Network(ipaddress.IPv4Address(payload.data))
        if payload.id_type == IdType.IPV4_ADDR_SUBNET and len(payload.data) == 8:
            addr, mask = (
                ipaddress.IPv4Address(payload.data[:4]),
                ipaddress.IPv4Address(payload.data[4:]),
            )
            return ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
        if payload.id_type == IdType.IPV4_ADDR_RANGE and len(payload.data) == 8:
            first, last = (
                ipaddress.IPv4Address(payload.data[:4]),
                ipaddress.IPv4Address(payload.data[4:]),
            )
            nets = list(ipaddress.summarize_address_range(first, last))
            if len(nets) == 1:
                return nets[0]
    except ValueError as exc:
        raise WireError(f"ID payload: bad IPv4 selector: {exc}") from None
    raise WireError(
        f"ID payload: type {payload.id_type} with {len(payload.data)} bytes is not an IPv4 selector"
    )


# --- RSA signatures -----------------------------------------------------------------------


def _load_private(key_pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the configured private key is not an RSA key")
    return key


def rsa_sign(key_pem: bytes, data: bytes) -> bytes:
    """PKCS#1 v1.5 type-1 signature over ``data`` itself (no DigestInfo)."""
    key = _load_private(key_pem)
    numbers = key.private_numbers()
    k = (key.key_size + 7) // 8
    if len(data) > k - 11:
        raise ValueError(f"{len(data)} bytes is too long to sign with a {key.key_size}-bit key")
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    return pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n).to_bytes(k, "big")


def rsa_verify(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    """Raise :class:`AuthenticationError` unless ``signature`` covers ``data`` (no DigestInfo)."""
    try:
        recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        raise AuthenticationError("RSA signature does not verify") from None
    if recovered != data:
        raise AuthenticationError("RSA signature covers a different hash")


# --- certificates -------------------------------------------------------------------------


def verify_certificate(cert_der: bytes, ca_der: bytes | None, peer_id: str) -> rsa.RSAPublicKey:
    """Check ``cert_der`` was issued by ``ca_der`` and names ``peer_id``; return its RSA key."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError as exc:
        raise AuthenticationError(f"peer certificate does not parse: {exc}") from None
    if ca_der is not None:
        ca = x509.load_der_x509_certificate(ca_der)
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise AuthenticationError("peer certificate is not signed by the trusted CA") from None
    if peer_id not in certificate_names(cert):
        raise AuthenticationError(f"peer certificate does not name {peer_id!r}")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthenticationError("peer certificate does not hold an RSA key")
    return key


def certificate_names(cert: x509.Certificate) -> set[str]:
    """Common names, DNS names, e-mail addresses and IP addresses a certificate holds."""
    names = {str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    names.update(san.get_values_for_type(x509.DNSName))
    names.update(san.get_values_for_type(x509.RFC822Name))
    names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return names


@dataclass(frozen=True)
class LabCredential:
    """A private key (PEM) and its certificate (DER)."""

    key_pem: bytes
    cert_der: bytes


_EPOCH = datetime.datetime(2015, 1, 1, tzinfo=datetime.UTC)


def make_lab_ca(name: str = "kleptolab lab CA", key_size: int = 2048) -> LabCredential:
    """A self-signed CA for the lab (fixed validity 2015-2045)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_EPOCH)
        .not_valid_after(_EPOCH.replace(year=2045))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return LabCredential(_pem(key), cert.public_bytes(serialization.Encoding.DER))


def issue_certificate(
    ca: LabCredential, identity: str, key_size: int = 2048, serial: int = 2
) -> LabCredential:
    """An end-entity certificate for ``identity`` (CN and DNS/IP SAN), signed by ``ca``."""
    ca_key = _load_private(ca.key_pem)
    ca_cert = x509.load_der_x509_certificate(ca.cert_der)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.IPv4Address(identity))
    except ValueError:
        alt = x509.DNSName(identity)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_EPOCH)
        .not_valid_after(_EPOCH.replace(year=2045))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return LabCredential(_pem(key), cert.public_bytes(serialization.Encoding.DER))


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

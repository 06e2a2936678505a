"""RSA-signature VPN credentials: read keys and certificates from files, write a lab PKI.

:func:`load_credentials` reads what a ``[[vpn]]`` table with ``auth =
"rsa-sig"`` (or ``kleptolab client --key/--cert/--ca``) names: an
unencrypted RSA private key and two X.509 certificates, PEM or DER.  It
checks that the key belongs to the certificate and that the certificate
names our IKE identity (the peer checks that too), and raises
:class:`PkiError` with the file and the reason otherwise.

:func:`init_pki` writes a lab CA, a gateway and a client credential and a
gateway configuration that uses them (``kleptolab pki init DIR``).  These
are lab credentials for loopback use only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kleptolab.ike.v1.auth import certificate_names, issue_certificate, make_lab_ca

__all__ = [
    "RSA_FILE_KEYS",
    "PkiError",
    "PkiFiles",
    "RsaCredentials",
    "certificate_der",
    "init_pki",
    "load_credentials",
    "private_key_pem",
    "read_vpn_credentials",
]


class PkiError(ValueError):
    """A key or certificate that is missing, unreadable or does not fit; the message names the file."""


@dataclass(frozen=True)
class RsaCredentials:
    """Our private key (PKCS#8 PEM), our certificate (DER) and the CA we trust for peers (DER)."""

    key_pem: bytes
    cert_der: bytes
    ca_der: bytes


def private_key_pem(data: bytes, what: str = "private key") -> bytes:
    """An unencrypted RSA private key (PEM or DER, PKCS#1 or PKCS#8) as PKCS#8 PEM."""
    loader = (
        serialization.load_pem_private_key
        if data.lstrip().startswith(b"-----")
        else serialization.load_der_private_key
    )
    try:
        key = loader(data, password=None)
    except TypeError:
        raise PkiError(f"{what}: the key is encrypted; the lab reads unencrypted keys") from None
    except ValueError as exc:
        raise PkiError(f"{what}: not a PEM or DER private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(f"{what}: a {type(key).__name__} key; RSA signatures need an RSA key")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate_der(data: bytes, what: str = "certificate") -> bytes:
    """An X.509 certificate (PEM or DER) as DER."""
    try:
        if data.lstrip().startswith(b"-----"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"{what}: not a PEM or DER X.509 certificate ({exc})") from None
    return cert.public_bytes(serialization.Encoding.DER)


def check_credentials(key_pem: bytes, cert_der: bytes, identity: str, what: str) -> None:
    """The key belongs to the certificate, and the certificate names ``identity``."""
    cert = x509.load_der_x509_certificate(cert_der)
    key = serialization.load_pem_private_key(key_pem, password=None)
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise PkiError(f"{what}: the certificate holds a {type(public).__name__}, not an RSA key")
    if not isinstance(key, rsa.RSAPrivateKey) or (
        public.public_numbers() != key.public_key().public_numbers()
    ):
        raise PkiError(f"{what}: the private key does not belong to the certificate")
    names = certificate_names(cert)
    if identity not in names:
        raise PkiError(
            f"{what}: the certificate does not name the local identity {identity!r} "
            f"(it names {', '.join(sorted(names)) or 'nothing'}); peers would refuse it"
        )


RSA_FILE_KEYS = ("private_key", "certificate", "trusted_ca")
"""The ``[[vpn]]`` keys naming the files of an ``auth = "rsa-sig"`` VPN."""


def read_vpn_credentials(
    names: Mapping[str, str | None], base: Path, local_id: str
) -> RsaCredentials:
    """Read the files a ``[[vpn]]`` table names (relative to ``base``) and check them.

    The :class:`PkiError` message starts with the offending key, e.g.
    ``certificate: cannot read /lab/gw.crt: No such file or directory``.
    """
    loaded: dict[str, bytes] = {}
    paths: dict[str, Path] = {}
    for key, convert in zip(
        RSA_FILE_KEYS, (private_key_pem, certificate_der, certificate_der), strict=True
    ):
        name = names.get(key)
        if not name:
            raise PkiError(f"{key}: missing (auth = 'rsa-sig' needs {', '.join(RSA_FILE_KEYS)})")
        paths[key] = path = base / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PkiError(f"{key}: cannot read {path}: {exc.strerror or exc}") from None
        try:
            loaded[key] = convert(data, str(path))
        except PkiError as exc:
            raise PkiError(f"{key}: {exc}") from None
    try:
        check_credentials(
            loaded["private_key"],
            loaded["certificate"],
            local_id,
            f"{paths['private_key']} + {paths['certificate']}",
        )
    except PkiError as exc:
        raise PkiError(f"certificate: {exc}") from None
    return RsaCredentials(loaded["private_key"], loaded["certificate"], loaded["trusted_ca"])


def load_credentials(
    key_path: Path, cert_path: Path, ca_path: Path, identity: str
) -> RsaCredentials:
    """Read and check our key and certificate (for ``identity``) and the trusted CA."""
    names = {
        "private_key": str(key_path),
        "certificate": str(cert_path),
        "trusted_ca": str(ca_path),
    }
    return read_vpn_credentials(names, Path(), identity)


@dataclass(frozen=True)
class PkiFiles:
    """What :func:`init_pki` wrote."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    gateway_key: Path
    gateway_cert: Path
    client_key: Path
    client_cert: Path
    config: Path

    @property
    def all(self) -> tuple[Path, ...]:
        """Every file, in writing order."""
        return (
            self.ca_cert,
            self.ca_key,
            self.gateway_key,
            self.gateway_cert,
            self.client_key,
            self.client_cert,
            self.config,
        )


GATEWAY_CONFIG = """\
# Lab gateway configuration with RSA-signature VPNs (written by `kleptolab pki init`).
#   kleptolab gateway --firmware IMAGE --config {config}
#   kleptolab client --key {client_key} --cert {client_cert} --ca {ca_cert}
#   kleptolab client -V 2 --key {client_key} --cert {client_cert} --ca {ca_cert}
# Paths are relative to this file.  The client's /32 selector is accepted inside remote_ts.

[[vpn]]
name = "lab-ikev1-rsa"
version = 1
auth = "rsa-sig"
local_id = {gateway_id}
remote_id = {client_id}
private_key = "gw.key.pem"
certificate = "gw.crt"
trusted_ca = "ca.crt"
ike_proposals = ["rsa-g2-3des-sha"]
child_proposals = ["g2-esp-3des-sha"]
local_ts = "198.51.100.0/24"
remote_ts = "203.0.113.0/24"

[[vpn]]
name = "lab-ikev2-rsa"
version = 2
auth = "rsa-sig"
local_id = {gateway_id}
remote_id = {client_id}
private_key = "gw.key.pem"
certificate = "gw.crt"
trusted_ca = "ca.crt"
ike_proposals = ["rsa-g14-aes128-sha", "rsa-g2-3des-sha"]
child_proposals = ["nopfs-esp-aes128-sha", "g2-esp-3des-sha"]
local_ts = "198.51.100.0/24"
remote_ts = "203.0.113.0/24"
"""


def _write_all(files: dict[Path, tuple[bytes, bool]]) -> None:
    """Write every file (secret ones mode 0600) or none: temporaries first, then renames."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, (data, secret) in files.items():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def _pem_cert(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def init_pki(
    directory: Path,
    *,
    gateway_id: str = "gw.example",
    client_id: str = "client.example",
    key_size: int = 2048,
    overwrite: bool = False,
) -> PkiFiles:
    """Write a lab CA, gateway and client credentials (keys mode 0600) and ``gateway-rsa.toml``,
    all of them or none.

    Refuses (:class:`PkiError`) to replace existing files unless ``overwrite``.
    """
    if not 1024 <= key_size <= 8192:
        raise PkiError(f"key size {key_size}: the lab makes RSA keys of 1024 to 8192 bits")
    d = Path(directory)
    files = PkiFiles(
        d,
        d / "ca.crt",
        d / "ca.key.pem",
        d / "gw.key.pem",
        d / "gw.crt",
        d / "client.key.pem",
        d / "client.crt",
        d / "gateway-rsa.toml",
    )
    existing = [p.name for p in files.all if p.exists()]
    if existing and not overwrite:
        raise PkiError(f"{d}: would overwrite {', '.join(existing)} (use --force)")
    ca = make_lab_ca(key_size=key_size)
    gateway = issue_certificate(ca, gateway_id, key_size, serial=2)
    client = issue_certificate(ca, client_id, key_size, serial=3)
    created = not d.exists()
    try:
        d.mkdir(parents=True, exist_ok=True)
        text = GATEWAY_CONFIG.format(
            config=files.config,
            client_key=files.client_key,
            client_cert=files.client_cert,
            ca_cert=files.ca_cert,
            gateway_id=json.dumps(gateway_id),
            client_id=json.dumps(client_id),
        )
        _write_all(
            {
                files.ca_cert: (_pem_cert(ca.cert_der), False),
                files.ca_key: (ca.key_pem, True),
                files.gateway_key: (gateway.key_pem, True),
                files.gateway_cert: (_pem_cert(gateway.cert_der), False),
                files.client_key: (client.key_pem, True),
                files.client_cert: (_pem_cert(client.cert_der), False),
                files.config: (text.encode(), False),
            }
        )
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise PkiError(
            f"{d}: cannot write the files (none written): {exc.strerror or exc}"
        ) from None
    return files

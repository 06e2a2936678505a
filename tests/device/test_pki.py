"""Lab PKI files, `kleptolab pki init`, and RSA-signature VPNs in the gateway configuration."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.device.config import ConfigError, load_config
from kleptolab.device.gateway import Gateway
from kleptolab.device.pki import PkiError, PkiFiles, init_pki, load_credentials
from kleptolab.ike.common import AuthMethod
from kleptolab.ike.v1.auth import issue_certificate, make_lab_ca

from .test_gateway import image


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(tmp_path_factory.mktemp("pki"), key_size=1024)


def test_init_writes_a_ca_two_credentials_and_a_config(pki: PkiFiles) -> None:
    for path in (pki.ca_key, pki.gateway_key, pki.client_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    gw = x509.load_pem_x509_certificate(pki.gateway_cert.read_bytes())
    gw.verify_directly_issued_by(ca)
    assert gw.subject.rfc4514_string() == "CN=gw.example"
    creds = load_credentials(pki.client_key, pki.client_cert, pki.ca_cert, "client.example")
    assert creds.ca_der == ca.public_bytes(serialization.Encoding.DER)
    with pytest.raises(PkiError, match=r"would overwrite ca\.crt"):
        init_pki(pki.directory, key_size=1024)


def test_generated_config_loads_rsa_vpns(pki: PkiFiles) -> None:
    config = load_config(pki.config)
    assert [v.peer.name for v in config.vpns] == ["lab-ikev1-rsa", "lab-ikev2-rsa"]
    for vpn in config.vpns:
        peer = vpn.peer
        assert {p.auth for p in peer.ike_proposals} == {AuthMethod.RSA_SIG} and peer.psk is None
        assert peer.rsa_key_pem is not None and peer.rsa_key_pem.startswith(b"-----BEGIN PRIVATE KEY")
        assert peer.certificate_der == x509.load_pem_x509_certificate(
            pki.gateway_cert.read_bytes()
        ).public_bytes(serialization.Encoding.DER)
        assert peer.trusted_ca_der is not None
    assert config.vpns[0].ike_proposal_names == ("rsa-g2-3des-sha",)
    lines = Gateway(config, image=image("6.3.0r20")).config_lines()
    assert any('"lab-ikev1-rsa"' in line and "preshare" not in line and '"rsa-g2-3des-sha"' in line
               for line in lines)
    assert 'set ike gateway ikev2 "lab-ikev2-rsa" cert peer-cert-type x509-sig' in lines


def rsa_table(**changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": "rsa", "version": 1, "auth": "rsa-sig", "local_id": "gw.example",
        "remote_id": "client.example", "private_key": "gw.key.pem", "certificate": "gw.crt",
        "trusted_ca": "ca.crt", "ike_proposals": ["rsa-g2-3des-sha"],
        "child_proposals": ["g2-esp-3des-sha"], "local_ts": "198.51.100.0/24",
        "remote_ts": "203.0.113.0/24",
    }
    table.update(changes)
    return {k: v for k, v in table.items() if v is not None}


def load_vpn(directory: Path, table: dict[str, Any]) -> object:
    path = directory / "gw.json"
    path.write_text(json.dumps({"vpn": [table]}))
    return load_config(path)


def test_der_files_and_an_inferred_auth_method(pki: PkiFiles, tmp_path: Path) -> None:
    for name in ("gw.key.pem", "gw.crt", "ca.crt"):
        shutil.copy(pki.directory / name, tmp_path / name)
    der = x509.load_pem_x509_certificate(pki.gateway_cert.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    (tmp_path / "gw.der").write_bytes(der)
    config = load_vpn(tmp_path, rsa_table(auth=None, certificate="gw.der"))
    assert config.vpns[0].peer.certificate_der == der  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"private_key": None}, "vpn[0].private_key: missing (auth = 'rsa-sig' needs"),
        ({"certificate": "nope.crt"}, "vpn[0].certificate: cannot read"),
        ({"trusted_ca": "gw.key.pem"}, "gw.key.pem: not a PEM or DER X.509 certificate"),
        ({"private_key": "ca.crt"}, "vpn[0].private_key:"),
        ({"private_key": "client.key.pem"}, "the private key does not belong to the certificate"),
        ({"local_id": "other.example"}, "does not name the local identity 'other.example'"),
        ({"ike_proposals": ["pre-g2-3des-sha"]}, "'pre-g2-3des-sha' does not authenticate with rsa-sig"),
        ({"auth": None, "ike_proposals": ["pre-g2-3des-sha", "rsa-g2-3des-sha"]}, "mixes 'pre-' and 'rsa-'"),
        ({"auth": "cert"}, "vpn[0].auth: must be 'psk' or 'rsa-sig'"),
        ({"psk": "x"}, "vpn[0].psk: not used with auth = 'rsa-sig'"),
        ({"auth": "psk", "ike_proposals": ["pre-g2-3des-sha"]}, "vpn[0].psk: missing (auth = 'psk')"),
        ({"auth": "psk", "psk": "x", "ike_proposals": ["pre-g2-3des-sha"]},
         "vpn[0].private_key: only used with auth = 'rsa-sig'"),
    ],
)
def test_rsa_config_errors_name_the_key(
    pki: PkiFiles, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_vpn(pki.directory, rsa_table(**changes))
    assert message in str(info.value)


def test_trusted_ca_must_parse_and_the_key_must_be_unencrypted(tmp_path: Path) -> None:
    ca = make_lab_ca(key_size=1024)
    cred = issue_certificate(ca, "gw.example", 1024)
    (tmp_path / "gw.crt").write_bytes(cred.cert_der)
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    key = serialization.load_pem_private_key(cred.key_pem, None)
    (tmp_path / "gw.key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ConfigError, match="the key is encrypted"):
        load_vpn(tmp_path, rsa_table())
    (tmp_path / "gw.key.pem").write_bytes(cred.key_pem)
    with pytest.raises(ConfigError, match=r"vpn\[0\]\.trusted_ca: .*not a PEM or DER X\.509"):
        load_vpn(tmp_path, rsa_table())


def test_cli_pki_init(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["pki", "init", str(tmp_path / "lab"), "--key-size", "1024"])
    assert result.exit_code == 0, result.output
    assert "gateway-rsa.toml" in result.output and "--cert" in result.output
    assert load_config(tmp_path / "lab" / "gateway-rsa.toml").vpns[1].peer.version == 2
    again = runner.invoke(app, ["pki", "init", str(tmp_path / "lab"), "--key-size", "1024"])
    assert again.exit_code != 0 and "--force" in again.output
    forced = runner.invoke(app, ["pki", "init", str(tmp_path / "lab"), "--key-size", "1024", "--force"])
    assert forced.exit_code == 0, forced.output

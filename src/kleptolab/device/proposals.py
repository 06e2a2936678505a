"""ScreenOS proposal names → :class:`IkeProposal` / :class:`ChildProposal`.

ScreenOS names its predefined and user proposals by a dash-separated recipe:

* phase 1: ``<auth>-<group>-<cipher>-<hash>``, e.g. ``pre-g2-3des-sha`` or
  ``rsa-g14-aes128-sha-256``; ``auth`` is ``pre`` (PSK) or ``rsa``;
* phase 2: ``<pfs>-esp-<cipher>-<hash>``, e.g. ``g2-esp-3des-sha`` or
  ``nopfs-esp-aes128-md5``; ``pfs`` is ``gN`` or ``nopfs``.

Ciphers: ``des``, ``3des``, ``aes128``, ``aes192``, ``aes256``.  Hashes:
``md5``, ``sha`` (SHA-1), ``sha-256``.  Groups: 1, 2, 5, 14, 19, 20.
"""

from __future__ import annotations

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import AuthMethod, ChildProposal, IkeProposal

_CIPHERS: dict[str, tuple[Encr, int]] = {
    "des": (Encr.DES_CBC, 8),
    "3des": (Encr.TDES_CBC, 24),
    "aes128": (Encr.AES_CBC, 16),
    "aes192": (Encr.AES_CBC, 24),
    "aes256": (Encr.AES_CBC, 32),
}
_HASHES: dict[str, tuple[Integ, Prf]] = {
    "md5": (Integ.HMAC_MD5_96, Prf.HMAC_MD5),
    "sha": (Integ.HMAC_SHA1_96, Prf.HMAC_SHA1),
    "sha-256": (Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256),
}
_AUTH = {"pre": AuthMethod.PSK, "rsa": AuthMethod.RSA_SIG}
_GROUPS = (1, 2, 5, 14, 19, 20)


class ProposalNameError(ValueError):
    """A ScreenOS proposal name that the lab cannot map."""


def _split(name: str) -> tuple[str, str, str, str]:
    parts = name.strip().lower().split("-")
    if len(parts) == 5 and parts[3] == "sha" and parts[4] == "256":
        parts = [*parts[:3], "sha-256"]
    if len(parts) != 4:
        raise ProposalNameError(
            f"not a ScreenOS proposal name: {name!r} (expected e.g. 'pre-g2-3des-sha' or 'g2-esp-3des-sha')"
        )
    return parts[0], parts[1], parts[2], parts[3]


def _group(token: str, name: str) -> int:
    if not token.startswith("g") or not token[1:].isdigit() or int(token[1:]) not in _GROUPS:
        raise ProposalNameError(
            f"{name!r}: unknown DH group {token!r} (known: g1 g2 g5 g14 g19 g20)"
        )
    return int(token[1:])


def _cipher_hash(cipher: str, hash_name: str, name: str) -> tuple[Encr, int, Integ, Prf]:
    if cipher not in _CIPHERS:
        raise ProposalNameError(
            f"{name!r}: unknown cipher {cipher!r} (known: {', '.join(_CIPHERS)})"
        )
    if hash_name not in _HASHES:
        raise ProposalNameError(
            f"{name!r}: unknown hash {hash_name!r} (known: {', '.join(_HASHES)})"
        )
    encr, key_size = _CIPHERS[cipher]
    integ, prf = _HASHES[hash_name]
    return encr, key_size, integ, prf


def parse_ike_proposal(name: str) -> IkeProposal:
    """Map a phase-1 name such as ``pre-g2-3des-sha``; :class:`ProposalNameError` otherwise."""
    auth, group, cipher, hash_name = _split(name)
    if auth not in _AUTH:
        raise ProposalNameError(f"{name!r}: phase-1 names start with 'pre' or 'rsa', not {auth!r}")
    encr, key_size, integ, prf = _cipher_hash(cipher, hash_name, name)
    return IkeProposal(encr, key_size, integ, prf, _group(group, name), _AUTH[auth])


def parse_child_proposal(name: str) -> ChildProposal:
    """Map a phase-2 name such as ``g2-esp-3des-sha``; :class:`ProposalNameError` otherwise."""
    pfs, proto, cipher, hash_name = _split(name)
    if proto != "esp":
        raise ProposalNameError(f"{name!r}: phase-2 names read '<pfs>-esp-<cipher>-<hash>'")
    encr, key_size, integ, _prf = _cipher_hash(cipher, hash_name, name)
    group = None if pfs == "nopfs" else _group(pfs, name)
    return ChildProposal(encr, key_size, integ, group)


def parse_screenos_proposal(name: str) -> IkeProposal | ChildProposal:
    """Map either kind of ScreenOS proposal name (phase 2 if its second token is ``esp``)."""
    return parse_child_proposal(name) if "-esp-" in name.lower() else parse_ike_proposal(name)


def screenos_name(proposal: IkeProposal | ChildProposal) -> str:
    """The ScreenOS name of ``proposal`` (inverse of :func:`parse_screenos_proposal`)."""
    cipher = next(k for k, v in _CIPHERS.items() if v == (proposal.encr, proposal.key_size))
    hash_name = next(k for k, v in _HASHES.items() if v[0] is proposal.integ)
    if isinstance(proposal, IkeProposal):
        auth = next(k for k, v in _AUTH.items() if v is proposal.auth)
        return f"{auth}-g{proposal.dh_group}-{cipher}-{hash_name}"
    pfs = "nopfs" if proposal.pfs_group is None else f"g{proposal.pfs_group}"
    return f"{pfs}-esp-{cipher}-{hash_name}"

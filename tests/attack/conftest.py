"""Captures and decryptor runs shared by the attack tests (each state recovery costs ~2 s).

Every capture comes from one emulated 6.3.0r20-style gateway (lab trapdoor,
pre-generation queues); one session-wide :class:`StateCache` means each
responder nonce is swept once however many tests decrypt the capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kleptolab.attack.decryptor import DecryptOptions, DecryptResult, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.outputs import write_outputs
from kleptolab.attack.recovery import StateCache
from kleptolab.crypto.algorithms import Encr
from kleptolab.ike.common import AuthMethod

from .synth import SynthSession, gateway_queues, ikev2_capture, lab_trapdoor
from .synth_v1 import PSK, V1Case, V1Session, ikev1_capture

TRAPDOOR = lab_trapdoor()

V1_CASES = (
    V1Case(),  # Main Mode PSK, NAT-T, no PFS, 3DES
    V1Case(pfs=True, nat_t=False, encr=Encr.AES_CBC, key_size=16, quick_modes=2),
    V1Case(aggressive=True, pfs=True),
    V1Case(aggressive=True, nat_t=False),
    V1Case(auth=AuthMethod.RSA_SIG, pfs=True),
    V1Case(auth=AuthMethod.RSA_SIG, aggressive=True, nat_t=False),
)
V2_VARIANTS = [{"nat_t": True}, {"nat_t": False, "rekey_pfs": True}, {"nat_t": True, "rekey_pfs": True}]


@dataclass
class Run:
    """One decryptor run over a synthetic capture, with its outputs written to ``out``."""

    capture: Path
    sent: list[SynthSession]
    result: DecryptResult
    out: Path

    @property
    def sessions(self) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = self.result.report["sessions"]
        return sessions


def decrypt_to(capture: Path, out: Path, cache: StateCache, options: DecryptOptions | None = None) -> DecryptResult:
    """Decrypt with two local workers and write every output file into ``out``."""
    result = decrypt_capture(capture, TRAPDOOR, make_engine("local", 2), cache, options or DecryptOptions())
    write_outputs(out, ikev1=result.ikev1, ikev2=result.ikev2, esp=result.esp,
                  plaintext=result.plaintext, report=result.report)
    return result


@pytest.fixture(scope="session")
def state_cache() -> StateCache:
    return StateCache()


@pytest.fixture(scope="session")
def v1_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[V1Session]]:
    """Six IKEv1 connections: Main/Aggressive Mode, PSK/RSA, with and without PFS and NAT-T."""
    path = tmp_path_factory.mktemp("v1") / "v1.pcap"
    return path, ikev1_capture(path, gateway_queues(TRAPDOOR.q, {2: 2 * len(V1_CASES)}), V1_CASES)


@pytest.fixture(scope="session")
def v1_run(v1_capture: tuple[Path, list[V1Session]], state_cache: StateCache) -> Run:
    """The IKEv1 capture decrypted with the PSK given."""
    path, sent = v1_capture
    out = path.parent / "out-psk"
    return Run(path, list(sent), decrypt_to(path, out, state_cache, DecryptOptions(psk=PSK)), out)


@pytest.fixture(scope="session")
def v2_run(tmp_path_factory: pytest.TempPathFactory, state_cache: StateCache) -> Run:
    """Three IKEv2 PSK connections (no PSK given): NAT-T or not, two with a PFS CREATE_CHILD_SA."""
    tmp = tmp_path_factory.mktemp("v2")
    path = tmp / "v2.pcap"
    sent = ikev2_capture(path, gateway_queues(TRAPDOOR.q, {2: 2}), len(V2_VARIANTS), V2_VARIANTS)
    return Run(path, list(sent), decrypt_to(path, tmp / "out", state_cache), tmp / "out")

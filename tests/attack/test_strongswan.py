"""Acceptance: a real strongSwan initiator connects to the emulated gateway; the passive
decryptor, given only the capture and the lab trapdoor, recovers exactly the keys charon
printed in its level-4 log (root and network namespaces only; see
``tests/device/strongswan_harness.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kleptolab import netpkt
from kleptolab.attack.decryptor import DecryptOptions, DecryptResult, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.recovery import StateCache
from kleptolab.drbg.trapdoor import load_trapdoor
from tests.device.strongswan_harness import (
    CL_ADDR,
    GW_ADDR,
    IKEV1_3DES,
    IKEV2_AES,
    PROTECTED_HOST,
    PSK,
    InteropCase,
    interop_skip_reason,
    run_interop,
)

pytestmark = pytest.mark.slow

_HEAD = re.compile(r"\[(?:IKE|CHD)\] (?P<name>[A-Za-z_ ]+?) => (?P<size>\d+) bytes @")
_HEX = re.compile(r"\[(?:IKE|CHD)\]\s+\d+: ((?:[0-9A-F]{2} ){1,16})")


def charon_values(log: str) -> dict[str, list[bytes]]:
    """Every ``name => N bytes`` hex dump of a charon level-4 log, in order of appearance."""
    values: dict[str, list[bytes]] = {}
    name, size, buf = "", 0, b""
    for line in log.splitlines():
        head = _HEAD.search(line)
        if head is not None:
            name, size, buf = head["name"], int(head["size"]), b""
            if size == 0:
                values.setdefault(name, []).append(b"")
            continue
        dump = _HEX.search(line)
        if dump is not None and name and len(buf) < size:
            buf += bytes.fromhex(dump[1].replace(" ", ""))
            if len(buf) >= size:
                values.setdefault(name, []).append(buf[:size])
    return values


@pytest.fixture(scope="module")
def skip_reason() -> str | None:
    return interop_skip_reason()


def _run(tmp_path: Path, case: InteropCase, skip_reason: str | None) -> tuple[DecryptResult, dict[str, list[bytes]]]:
    if skip_reason:
        pytest.skip(skip_reason)
    interop = run_interop(tmp_path / case.name, case)
    assert interop.established, interop.initiate_output[-3000:]
    assert interop.ping_replies > 0, interop.ping_output
    assert interop.trapdoor is not None
    trapdoor, cache = load_trapdoor(interop.trapdoor), StateCache()
    result = decrypt_capture(interop.pcap, trapdoor, make_engine("local", 2), cache, DecryptOptions(psk=PSK.encode()))
    if any("failure" in s for s in result.report["sessions"]):  # ~1/256: the nonce hit the BN_bn2bin quirk
        result = decrypt_capture(interop.pcap, trapdoor, make_engine("local", 2), StateCache(),
                                 DecryptOptions(psk=PSK.encode(), quirk_shifts=1))
    logged = charon_values(interop.charon_log.read_text(errors="replace"))
    return result, logged


def _check_esp(result: DecryptResult, logged: dict[str, list[bytes]]) -> None:
    esp = result.report["esp"]
    assert esp and all(e["decrypted"] == e["packets"] and e["icv_failed"] == 0 for e in esp), esp
    out = {(r.src, r.dst): r for r in result.esp}
    to_gw, to_cl = out[(CL_ADDR, GW_ADDR)], out[(GW_ADDR, CL_ADDR)]
    assert to_gw.encr_key == logged["encryption initiator key"][-1]
    assert to_gw.integ_key == logged["integrity initiator key"][-1]
    assert to_cl.encr_key == logged["encryption responder key"][-1]
    assert to_cl.integ_key == logged["integrity responder key"][-1]
    pings = [netpkt.parse_ip(p) for _, p in result.plaintext]
    assert any(p.dst == PROTECTED_HOST for p in pings) and any(p.src == PROTECTED_HOST for p in pings)


def test_ikev1_main_mode_psk_keys_equal_charons(tmp_path: Path, skip_reason: str | None) -> None:
    result, logged = _run(tmp_path, IKEV1_3DES, skip_reason)
    [session] = result.report["sessions"]
    assert "failure" not in session, session
    keys = {k: bytes.fromhex(v) for k, v in session["keys"].items()}
    assert keys["g_xy"] == logged["shared Diffie Hellman secret"][0]
    for name in ("SKEYID", "SKEYID_d", "SKEYID_a", "SKEYID_e"):
        assert keys[name] == logged[name][0], name
    assert keys["Ka"] == logged["encryption key Ka"][0]
    assert session["auth_check"] == "HASH_I verified"
    _check_esp(result, logged)


def test_ikev2_psk_keys_equal_charons(tmp_path: Path, skip_reason: str | None) -> None:
    result, logged = _run(tmp_path, IKEV2_AES, skip_reason)
    [session] = result.report["sessions"]
    assert "failure" not in session, session
    keys = {k: bytes.fromhex(v) for k, v in session["keys"].items()}
    assert keys["SKEYSEED"] == logged["SKEYSEED"][0]
    for ours, theirs in (("SK_d", "Sk_d secret"), ("SK_ai", "Sk_ai secret"), ("SK_ar", "Sk_ar secret"),
                         ("SK_ei", "Sk_ei secret"), ("SK_er", "Sk_er secret"), ("SK_pi", "Sk_pi secret"),
                         ("SK_pr", "Sk_pr secret")):
        assert keys[ours] == logged[theirs][0], ours
    _check_esp(result, logged)

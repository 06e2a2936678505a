"""Wireshark as the independent judge: given only the exported tables, tshark decrypts it all.

The decryptor's ``ikev1_decryption_table``, ``ikev2_decryption_table`` and
``esp_sa`` go into a throw-away Wireshark configuration directory
(``WIRESHARK_CONFIG_DIR``; ike-ecosystem.md §1.3); the key tables' formats are
Wireshark 4.0's.  IKEv1 has no integrity check, so a decrypted message is one
whose payload tree appears (a wrong key leaves ``isakmp.typepayload`` empty);
IKEv2 ICDs must be ``[correct]``; every ESP packet must show ``esp.icv_good``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

from .conftest import V1_CASES, Run

FIELDS = ("frame.number", "isakmp.version", "isakmp.flags", "isakmp.exchangetype", "isakmp.typepayload",
          "esp.spi", "esp.icv_good", "icmp.type")
ESP_OPTS = ("-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE")


def _tshark(run: Run, tmp_path: Path, *args: str) -> str:
    tshark = require_tool("tshark")
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True, check=True).stdout
    if not re.search(r"\b4\.0\.\d+", version.splitlines()[0]):
        pytest.skip(f"key-table formats are pinned to Wireshark 4.0; found {version.splitlines()[0]}")
    config = tmp_path / "wireshark"
    config.mkdir(exist_ok=True)
    for name in ("ikev1_decryption_table", "ikev2_decryption_table", "esp_sa"):
        shutil.copy(run.out / name, config / name)
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config), "HOME": str(tmp_path)}
    done = subprocess.run([tshark, "-n", "-r", str(run.capture), *ESP_OPTS, *args],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows(run: Run, tmp_path: Path) -> list[dict[str, str]]:
    out = _tshark(run, tmp_path, "-T", "fields", *(x for f in FIELDS for x in ("-e", f)))
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def _check_esp(rows: list[dict[str, str]], expected: int) -> None:
    esp = [r for r in rows if r["esp.spi"]]
    assert len(esp) == expected
    assert all(r["esp.icv_good"] == "1" for r in esp), [r for r in esp if r["esp.icv_good"] != "1"]
    assert all(r["icmp.type"] in ("0", "8") for r in esp)  # the inner echo request / reply is dissected


def test_tshark_decrypts_every_ikev1_message_and_esp_packet(v1_run: Run, tmp_path: Path) -> None:
    rows = _rows(v1_run, tmp_path)
    encrypted = [r for r in rows if r["isakmp.flags"] and int(r["isakmp.flags"], 16) & 1]
    assert len(encrypted) == sum(3 * c.quick_modes + (0 if c.aggressive else 2) for c in V1_CASES)
    for r in encrypted:
        payloads = r["isakmp.typepayload"].split(",")
        first = "8" if r["isakmp.exchangetype"] == "32" else "5"  # QM: HASH first; MM5/MM6: ID first
        assert payloads[0] == first, r
        if r["isakmp.exchangetype"] == "32" and len(payloads) > 1:
            assert "10" in payloads  # Quick Mode carries the (encrypted) nonce
    _check_esp(rows, sum(4 * c.quick_modes for c in V1_CASES))


def test_tshark_decrypts_every_ikev2_message_and_esp_packet(v2_run: Run, tmp_path: Path) -> None:
    rows = _rows(v2_run, tmp_path)
    sk = [r for r in rows if r["isakmp.exchangetype"] in ("35", "36", "37")]
    assert len(sk) == sum(4 if s["child_sas"] and len(s["child_sas"]) > 1 else 2
                          for s in v2_run.sessions)
    assert all(len(r["isakmp.typepayload"].split(",")) > 1 for r in sk)  # the SK payload was opened
    _check_esp(rows, len([p for s in v2_run.sent for p in s.inner]))
    verbose = _tshark(v2_run, tmp_path, "-V")
    icd = [line for line in verbose.splitlines() if "Integrity Checksum Data:" in line]
    assert len(icd) == len(sk) and all(line.endswith("[correct]") for line in icd), icd

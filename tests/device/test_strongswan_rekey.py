"""Long-lived tunnels with a real strongSwan 5.9.8: IKE_SA rekeys every 25 s, CHILD_SA rekeys every
15 s, 75 pings at 1/s (root and network namespaces only; see ``strongswan_harness.py``).

Every ping must be answered; the passive decryptor must follow every IKE SA of the rekey chain
(RFC 7296 §2.18) and every CHILD_SA, with keys equal to those charon logged; tshark, given only
the decryptor's tables, must verify every IKEv2 ICD and every ESP ICV.  The second scenario
adds PFS and makes the gateway lose every second IKE reply, so charon retransmits and the
gateway answers from its response cache, also for the Delete of an IKE SA it already removed
(RFC 7296 §2.1).  Each scenario takes about 80 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from kleptolab.attack.decryptor import DecryptOptions, DecryptResult, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.outputs import write_outputs
from kleptolab.attack.recovery import StateCache
from kleptolab.capture import EspPacket, IkePacket, classify_all, group_ike_sas, read_capture
from kleptolab.drbg.trapdoor import load_trapdoor
from tests.attack.test_strongswan import charon_values

from .strongswan_harness import (
    IKEV2_AES,
    PSK,
    InteropCase,
    InteropResult,
    interop_skip_reason,
    run_interop,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

PINGS = 75
LONG = replace(IKEV2_AES, name="ikev2-rekey-nopfs", rekey_ike=25, rekey_child=15)
LONG_PFS_LOSSY = replace(
    IKEV2_AES,
    name="ikev2-rekey-pfs-lossy",
    esp="aes128-sha1-modp2048",
    gw_esp="g14-esp-aes128-sha",
    rekey_ike=25,
    rekey_child=15,
    drop_every=2,
    terminate=True,
)
ESP_OPTS = ("-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE")


def _tshark(pcap: Path, tables: Path, tmp: Path, *args: str) -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is missing (apt-get install tshark)")
    version = subprocess.run(
        [tshark, "--version"], capture_output=True, text=True, check=True
    ).stdout
    if not re.search(r"\b4\.0\.\d+", version.splitlines()[0]):
        pytest.skip(
            f"key-table formats are pinned to Wireshark 4.0; found {version.splitlines()[0]}"
        )
    config = tmp / "wireshark"
    config.mkdir(exist_ok=True)
    for name in ("ikev2_decryption_table", "esp_sa"):
        shutil.copy(tables / name, config / name)
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config), "HOME": str(tmp)}
    done = subprocess.run(
        [tshark, "-n", "-r", str(pcap), *ESP_OPTS, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _decrypt(interop: InteropResult, out: Path) -> DecryptResult:
    assert interop.trapdoor is not None
    trapdoor = load_trapdoor(interop.trapdoor)
    result = decrypt_capture(
        interop.pcap,
        trapdoor,
        make_engine("local", 2),
        StateCache(),
        DecryptOptions(psk=PSK.encode()),
    )
    if any(
        "failure" in s for s in result.report["sessions"]
    ):  # ~1/256: a nonce hit the BN_bn2bin quirk
        result = decrypt_capture(
            interop.pcap,
            trapdoor,
            make_engine("local", 2),
            StateCache(),
            DecryptOptions(psk=PSK.encode(), quirk_shifts=1),
        )
    write_outputs(
        out,
        ikev1=result.ikev1,
        ikev2=result.ikev2,
        esp=result.esp,
        plaintext=result.plaintext,
        report=result.report,
    )
    return result


@pytest.mark.parametrize("case", [LONG, LONG_PFS_LOSSY], ids=["no-pfs", "pfs-lossy"])
def test_rekeyed_tunnel_stays_up_and_every_sa_decrypts(case: InteropCase, tmp_path: Path) -> None:
    reason = interop_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    interop = run_interop(tmp_path / case.name, case, pings=PINGS)
    gateway_log = interop.gateway_log.read_text(errors="replace")
    charon_log = interop.charon_log.read_text(errors="replace")
    assert interop.established, interop.initiate_output[-3000:]
    assert interop.ping_replies == PINGS, interop.ping_output[-2000:]
    assert "IKE SA rekeying is not supported" not in gateway_log
    if case.drop_every:
        assert "lost on purpose" in gateway_log and "retransmit" in charon_log
    if case.terminate:  # the retransmitted Delete got the cached answer although the SA was gone
        assert "terminate completed successfully" in interop.terminate_output, (
            interop.terminate_output
        )
        tail = charon_log[charon_log.rindex("sending DELETE for IKE_SA") :]
        assert "retransmit 1 of request" in tail and "IKE_SA deleted" in tail, tail[-3000:]

    packets = classify_all(read_capture(interop.pcap).datagrams)
    ike_sas = group_ike_sas(packets)
    esp_spis = {p.spi for p in packets if isinstance(p, EspPacket)}
    retransmitted = sum(len(g) - len({p.message for p in g}) for g in ike_sas.values())
    result = _decrypt(interop, tmp_path / "out")
    sessions = result.report["sessions"]
    assert len(sessions) >= 3, sessions  # IKE_SA_INIT + at least two rekeys in 75 s
    assert all("failure" not in s for s in sessions), [s.get("failure") for s in sessions]
    (chain,) = result.report["ike_rekey_chains"]
    assert chain["all_decrypted"] and chain["rekeys"] == len(sessions) - 1 - len(chain["redundant"])
    assert all(s["ike_messages_failed"] == 0 for s in sessions)
    esp = result.report["esp"]
    assert esp and all(e["decrypted"] == e["packets"] and e["icv_failed"] == 0 for e in esp), esp
    assert {e["spi"] for e in esp} == {spi.hex() for spi in esp_spis}

    # keys equal charon's: every IKE SA's SKEYSEED and SK_d, every CHILD_SA's four keys
    logged = charon_values(charon_log)
    # (a rekey the gateway answered while charon was being stopped is in the capture, not in the log)
    ours = {bytes.fromhex(s["keys"]["SKEYSEED"]) for s in sessions}
    theirs = set(logged["SKEYSEED"])
    assert theirs <= ours and len(ours - theirs) <= 1 and len(theirs) >= 3, (len(ours), len(theirs))
    assert set(logged["Sk_d secret"]) <= {bytes.fromhex(s["keys"]["SK_d"]) for s in sessions}
    recovered = {(r.encr_key, r.integ_key) for r in result.esp}
    charon_children = set(
        zip(logged["encryption initiator key"], logged["integrity initiator key"], strict=True)
    )
    charon_children |= set(
        zip(logged["encryption responder key"], logged["integrity responder key"], strict=True)
    )
    assert charon_children <= recovered and len(charon_children) >= 8

    # Wireshark, given only our tables, verifies every IKEv2 ICD and every ESP ICV
    rows = _tshark(
        interop.pcap,
        tmp_path / "out",
        tmp_path,
        "-T",
        "fields",
        "-e",
        "isakmp.exchangetype",
        "-e",
        "esp.spi",
        "-e",
        "esp.icv_good",
    ).splitlines()
    esp_rows = [r.split("\t") for r in rows if r.split("\t")[1]]
    icv_good = sum(r[2] == "1" for r in esp_rows)
    assert icv_good == len(esp_rows) == sum(isinstance(p, EspPacket) for p in packets)
    verbose = _tshark(interop.pcap, tmp_path / "out", tmp_path, "-V")
    icd = [line for line in verbose.splitlines() if "Integrity Checksum Data:" in line]
    encrypted = sum(
        isinstance(p, IkePacket) and p.header.exchange_type in (35, 36, 37) for p in packets
    )
    assert len(icd) == encrypted and all(line.endswith("[correct]") for line in icd)
    print(
        f"\n{case.name}: pings answered {interop.ping_replies}/{PINGS}; IKE SAs seen {len(ike_sas)}, "
        f"decrypted {len(sessions)} ({chain['rekeys']} rekeys, {len(chain['redundant'])} redundant); "
        f"CHILD_SAs seen {len(esp_spis) // 2} (ESP SPIs {len(esp_spis)}), charon logged "
        f"{len(charon_children) // 2}, decrypted {len(result.esp) // 2}; ESP packets {len(esp_rows)}, "
        f"tshark icv_good {icv_good}; IKEv2 ICDs correct {len(icd)}/{encrypted}; "
        f"retransmitted IKE copies {retransmitted}"
    )

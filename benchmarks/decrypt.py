"""Passive decryptor against tshark: whole run against whole run, on the same captures.

    python benchmarks/decrypt.py [--handshakes 100 400 800] [--esp-mib 48] [--workers N] [--keep DIR]

For each ``--handshakes`` count, one emulated 6.3.0r20-style gateway (lab
trapdoor, pre-generation queues) answers that many IKEv2 PSK connections
(AES-128-CBC/HMAC-SHA1, group 2), each carrying bulk ESP (1300-byte echo
payloads) until the capture holds about ``--esp-mib`` MiB of ESP.

**Whole runs** (the headline ratio): ``kleptolab decrypt`` as a user runs it
(a fresh process, an empty state store, reading, state recovery, the IKE
attack, ESP decryption and every output file written) against tshark 4.0
dissecting and decrypting every ESP packet of the same capture with the key
tables kleptolab wrote (``esp.icv_good`` checked on every packet).  tshark is
given the keys; kleptolab has to find them.

**Stage figures** (labelled as such, from kleptolab's report.json): the sweep
time, the IKE attack, the ESP pass (re-reading the capture, verifying,
decrypting, writing plaintext) and the MiB/s of its crypto part alone
(verify + decrypt + write, reading excluded).  Stages are not whole runs and
are not compared with tshark.
Needs the repository root on ``sys.path`` (for ``tests/attack/synth.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.attack.synth import gateway_prng, ikev2_session, lab_trapdoor  # noqa: E402

from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter  # noqa: E402
from kleptolab.device.queues import PrngQueues  # noqa: E402

MiB = 1 << 20
PAYLOAD = 1300


def build(path: Path, handshakes: int, esp_mib: float) -> int:
    """Write the capture; return the ESP packets per direction of each session."""
    trapdoor = lab_trapdoor()
    gw = PrngQueues(gateway_prng(trapdoor.q, "benchmark"), {2: 2}, nonce_size=32, clock=lambda: 0.0)
    gw.fill()
    per_session = max(1, round(esp_mib * MiB / handshakes / (2 * (PAYLOAD + 90))))
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        for i in range(handshakes):
            ikev2_session(writer, gw, 1_700_000_000 + i, i + 1, packets=per_session, payload_size=PAYLOAD)
            gw.tick()
    return per_session


def tshark_esp(capture: Path, tables: Path) -> tuple[float, int, int]:
    """Seconds for tshark to dissect and decrypt the capture; (time, ESP packets, icv_good)."""
    tshark = shutil.which("tshark")
    assert tshark is not None
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(tables)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", "-Y", "esp", "-T", "fields", "-e", "esp.icv_good"],
        capture_output=True, text=True, env=env, check=True)
    elapsed = time.perf_counter() - t0
    lines = done.stdout.split()
    return elapsed, len(lines), lines.count("1")


def kleptolab_run(capture: Path, outdir: Path, workers: int) -> tuple[float, dict[str, Any]]:
    """Wall seconds of the real CLI on ``capture`` (fresh process, empty store) and its report."""
    key = outdir.parent / "trapdoor.json"
    key.write_text(json.dumps(lab_trapdoor().to_json()))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kleptolab", "decrypt", str(capture), "--trapdoor", str(key), "-o",
                    str(outdir), "--workers", str(workers)], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    report: dict[str, Any] = json.loads((outdir / "report.json").read_text())
    return wall, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, nargs="+", default=[100, 400, 800])
    parser.add_argument("--esp-mib", type=float, default=48.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="keep the captures and outputs in this directory")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kleptolab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tshark = shutil.which("tshark")
    print(f"{'handshakes':>10} {'capture MiB':>11} {'kleptolab s':>11} {'tshark s':>9} {'tshark/kleptolab':>16}"
          f" | stages: {'sweeps':>6} {'sweep s':>7} {'attack s':>8} {'ESP pass s':>10} {'ESP crypto MiB/s':>16}")
    for handshakes in args.handshakes:
        capture = work / f"bench-{handshakes}.pcap"
        if not capture.exists():
            build(capture, handshakes, args.esp_mib)
        outdir = work / f"out-{handshakes}"
        wall, rep = kleptolab_run(capture, outdir, args.workers)
        t, how = rep["timings"], rep["nonce_recovery"]
        esp_pkts = sum(e["decrypted"] for e in rep["esp"])
        wire_bytes = esp_pkts * (PAYLOAD + 28 + 2 + 16 + 8 + 12 + 16)  # approx. ESP on the wire
        ok = sum("failure" not in s for s in rep["sessions"])
        assert ok == handshakes, f"only {ok}/{handshakes} sessions decrypted"
        if tshark is not None:
            ts, ts_pkts, ts_good = tshark_esp(capture, outdir)
            assert ts_good == ts_pkts == esp_pkts, (ts_good, ts_pkts, esp_pkts)
            ts_text, ratio = f"{ts:9.1f}", f"{ts / wall:15.2f}x"
        else:
            ts_text, ratio = f"{'-':>9}", f"{'no tshark':>16}"
        print(f"{handshakes:10d} {capture.stat().st_size / MiB:11.1f} {wall:11.1f} {ts_text} {ratio}"
              f" | stages: {how['sweep']:6d} {t['sweep_s']:7.1f} {t['attack_s']:8.1f} {t['esp_s']:10.2f}"
              f" {wire_bytes / MiB / max(t['esp_crypto_s'], 1e-9):16.1f}", flush=True)
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

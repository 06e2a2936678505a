"""Passive decryptor throughput on a large synthetic capture, against tshark on the same file.

    python benchmarks/decrypt.py [--handshakes 200] [--esp-mib 48] [--sweeps 2] [--workers N]

One emulated 6.3.0r20-style gateway (lab trapdoor, pre-generation queues)
answers ``--handshakes`` IKEv2 PSK connections (AES-128-CBC/HMAC-SHA1, group 2),
each carrying bulk ESP (1300-byte echo payloads) until the capture holds about
``--esp-mib`` MiB of ESP.  A full state recovery costs ~2 s per nonce on two
cores, so hundreds of sweeps would take many minutes: ``--sweeps`` nonces are
really swept (to measure the per-nonce cost), and the state cache is pre-filled
for the others with their true states, as a cache left by an earlier run
would be.  Reported: sessions/s with the cache (the pipeline after recovery),
projected sessions/s including every sweep, ESP MiB/s of the ESP stage, and
tshark 4.0's time to decrypt every ESP packet of the same capture with the
decryptor's exported tables (``esp.icv_good`` checked on every packet).
Needs the repository root on ``sys.path`` (for ``tests/attack/synth.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.attack.synth import gateway_prng, ikev2_session, lab_trapdoor  # noqa: E402

from kleptolab.attack.decryptor import DecryptOptions, decrypt_capture  # noqa: E402
from kleptolab.attack.engine import make_engine  # noqa: E402
from kleptolab.attack.outputs import write_outputs  # noqa: E402
from kleptolab.attack.pcapio import LINKTYPE_ETHERNET, PcapWriter  # noqa: E402
from kleptolab.attack.recovery import StateCache  # noqa: E402
from kleptolab.device.queues import PrngQueues  # noqa: E402
from kleptolab.drbg.screenos import ScreenOsPrng  # noqa: E402

MiB = 1 << 20
PAYLOAD = 1300


class RecordingPrng:
    """The firmware PRNG, remembering the Dual EC state after each output (the benchmark's oracle)."""

    def __init__(self, prng: ScreenOsPrng) -> None:
        self.prng = prng
        self.state_after: dict[bytes, int] = {}

    def generate(self) -> bytes:
        out = self.prng.generate()
        assert self.prng.dual_ec_state is not None
        self.state_after[out] = self.prng.dual_ec_state
        return out


def build(path: Path, handshakes: int, esp_mib: float) -> tuple[RecordingPrng, list[bytes], int]:
    """Write the capture; return the PRNG oracle, the responder nonces and ESP packets per direction."""
    trapdoor = lab_trapdoor()
    prng = RecordingPrng(gateway_prng(trapdoor.q, "benchmark"))
    gw = PrngQueues(prng, {2: 2}, nonce_size=32, clock=lambda: 0.0)
    gw.fill()
    per_session = max(1, round(esp_mib * MiB / handshakes / (2 * (PAYLOAD + 90))))
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        for i in range(handshakes):
            ikev2_session(writer, gw, 1_700_000_000 + i, i + 1, packets=per_session, payload_size=PAYLOAD)
            gw.tick()
    nonces = [t.value for t in gw.taken if t.kind == "nonce" and isinstance(t.value, bytes)]
    return prng, nonces, per_session


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, default=200)
    parser.add_argument("--esp-mib", type=float, default=48.0)
    parser.add_argument("--sweeps", type=int, default=2, help="nonces really swept (the rest come from the cache)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="keep the capture and outputs in this directory")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kleptolab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    capture = work / "bench.pcap"
    t0 = time.perf_counter()
    prng, nonces, per_session = build(capture, args.handshakes, args.esp_mib)
    print(f"capture: {args.handshakes} IKEv2 handshakes, {2 * per_session} ESP packets each, "
          f"{capture.stat().st_size / MiB:.1f} MiB, written in {time.perf_counter() - t0:.1f} s")
    trapdoor = lab_trapdoor()
    cache = StateCache()
    for nonce in nonces[args.sweeps :]:
        cache.put(nonce, [prng.state_after[nonce]])
    engine = make_engine("local", args.workers)
    result = decrypt_capture(capture, trapdoor, engine, cache, DecryptOptions())
    rep = result.report
    t = rep["timings"]
    ok_sessions = sum("failure" not in s for s in rep["sessions"])
    esp_bytes = sum(len(p) for _, p in result.plaintext)
    esp_pkts = sum(e["decrypted"] for e in rep["esp"])
    wire_bytes = esp_pkts * (PAYLOAD + 28 + 2 + 16 + 8 + 12 + 16)  # approx. ESP on the wire
    swept = max(1, args.sweeps)
    per_nonce = t["recovery_s"] / swept
    pipeline = t["total_s"] - t["recovery_s"]
    print(f"sessions decrypted: {ok_sessions}/{len(rep['sessions'])}; ESP packets: {esp_pkts} "
          f"({esp_bytes / MiB:.1f} MiB inner)")
    print(f"state recovery: {args.sweeps} nonce(s) swept in {t['recovery_s']:.1f} s "
          f"= {per_nonce:.2f} s/nonce with {args.workers} worker(s)")
    print(f"pipeline with cached states: {pipeline:.2f} s = {ok_sessions / pipeline:.1f} sessions/s "
          f"(attack stage {t['attack_s']:.2f} s)")
    projected = pipeline + per_nonce * len(nonces)
    print(f"projected with every nonce swept: {projected:.0f} s = {ok_sessions / projected:.2f} sessions/s")
    print(f"ESP stage: {t['esp_s']:.2f} s = {wire_bytes / MiB / t['esp_s']:.1f} MiB/s, "
          f"{esp_pkts / t['esp_s']:.0f} packets/s")
    outdir = work / "out"
    write_outputs(outdir, ikev1=result.ikev1, ikev2=result.ikev2, esp=result.esp,
                  plaintext=result.plaintext, report=rep)
    if shutil.which("tshark") is None:
        print("tshark not installed: no comparison")
        return
    ts, ts_pkts, ts_good = tshark_esp(capture, outdir)
    print(f"tshark: {ts:.2f} s for the whole capture, {ts_pkts} ESP packets, {ts_good} with icv_good = 1 "
          f"= {wire_bytes / MiB / ts:.1f} MiB/s")
    print(f"ratio ESP stage vs tshark: {ts / t['esp_s']:.1f}x faster; "
          f"whole run with cached states vs tshark: {ts / pipeline:.1f}x")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""CLI commands of `kleptolab.attack`: ``kleptolab decrypt`` (passive; never sends a packet)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kleptolab.ui import (
    check_input_file,
    check_output_dir,
    check_output_file,
    console,
    default_mode,
    fail,
    progress,
    safe,
    warn,
)

STAGES = ("recovering Dual EC states", "attacking IKE SAs", "decrypting ESP")
MAX_STEPS = 4096
"""Most PRNG outputs walked forward per recovered state (the default 64 covers a busy gateway)."""
OUTPUT_NAMES = ("ikev1_decryption_table", "ikev2_decryption_table", "esp_sa", "plaintext.pcap",
                "report.json")


def decrypt(
    capture: Annotated[Path, typer.Argument(help="pcap/pcapng capture (gzip welcome)")],
    trapdoor: Annotated[Path, typer.Option("--trapdoor", help="attacker key file (kleptolab-dualec-trapdoor)")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="where to write tables, plaintext.pcap, report.json")],
    psk: Annotated[str | None, typer.Option("--psk", help="IKEv1 pre-shared key, if known")] = None,
    psk_wordlist: Annotated[Path | None, typer.Option("--psk-wordlist", help="IKEv1 PSK guesses, one per line")] = None,
    steps: Annotated[int, typer.Option(help="PRNG outputs walked forward from each state")] = 64,
    exponent_bytes: Annotated[int, typer.Option(help="bytes of one PRNG output cut as a DH exponent")] = 20,
    quirk_shifts: Annotated[int, typer.Option(
        help="also sweep nonces whose Dual EC block lost N leading zero bytes (BN_bn2bin quirk); "
             "each extra shift costs one more sweep")] = 0,
    engine: Annotated[str, typer.Option(help="local | ray | dask")] = "local",
    workers: Annotated[int | None, typer.Option(help="parallel workers (default: all cores)")] = None,
    state_cache: Annotated[Path | None, typer.Option(help="JSON cache of recovered states per nonce")] = None,
    ike_port: Annotated[list[int] | None, typer.Option(
        "--ike-port", help="read this UDP port as IKE/NAT-T (repeatable; IKE is also found by content)")] = None,
) -> None:
    """Decrypt IKE and ESP in CAPTURE passively with the lab's Dual EC trapdoor."""
    from kleptolab.attack.decryptor import DecryptOptions, decrypt_capture
    from kleptolab.attack.engine import EngineUnavailable, make_engine
    from kleptolab.attack.outputs import write_outputs
    from kleptolab.attack.psk_crack import read_wordlist
    from kleptolab.attack.recovery import StateCache
    from kleptolab.drbg.trapdoor import load_trapdoor

    check_input_file(capture, "capture")
    check_input_file(trapdoor, "key file")
    if psk_wordlist is not None:
        check_input_file(psk_wordlist, "PSK wordlist")
    if not 1 <= steps <= MAX_STEPS:
        fail(f"--steps must be 1..{MAX_STEPS} (each step is one Dual EC output per state), got {steps}")
    if not 0 <= quirk_shifts <= 4:
        fail("--quirk-shifts must be between 0 and 4")
    if not 1 <= exponent_bytes <= 32:
        fail("--exponent-bytes must be between 1 and 32")
    ike_ports = frozenset(ike_port or ())
    if any(not 1 <= port <= 65535 for port in ike_ports):
        fail("--ike-port must be between 1 and 65535")
    if workers is not None and not 1 <= workers <= 512:
        fail(f"--workers must be 1..512, got {workers}")
    if state_cache is not None:
        if state_cache.exists():
            check_input_file(state_cache, "--state-cache")
        check_output_file(state_cache, "--state-cache")
    if outdir.exists() and not outdir.is_dir():
        fail(f"--outdir {outdir} exists and is not a folder")
    for name in OUTPUT_NAMES:
        if (outdir / name).is_dir():
            fail(f"--outdir {outdir}: {name} is a folder; it would be overwritten by a file")
    check_output_dir(outdir, "--outdir", create=False)
    try:
        key = load_trapdoor(trapdoor)
        runner = make_engine(engine, workers)
        cache = StateCache(state_cache)
        words = tuple(read_wordlist(psk_wordlist)) if psk_wordlist is not None else ()
    except (ValueError, EngineUnavailable) as exc:
        fail(str(exc))
    options = DecryptOptions(steps=steps, exponent_bytes=exponent_bytes, quirk_shifts=quirk_shifts,
                             psk=psk.encode() if psk is not None else None, psk_wordlist=words,
                             ike_ports=ike_ports)
    with progress() as bar:
        tasks = {stage: bar.add_task(stage, total=None) for stage in STAGES}

        def tick(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=None)
            bar.update(tasks[what], completed=done, total=total)

        try:
            result = decrypt_capture(capture, key, runner, cache, options, tick)
        except ValueError as exc:
            fail(str(exc))
    try:
        _save_whole(cache, state_cache)
        _write_whole(outdir, lambda staging: write_outputs(
            staging, ikev1=result.ikev1, ikev2=result.ikev2, esp=result.esp,
            plaintext=result.plaintext, report=result.report))
    except OSError as exc:
        fail(f"cannot write the results to {outdir} (nothing written): {exc.strerror or exc}")
    summary(result.report, outdir)


def _save_whole(cache: Any, path: Path | None) -> None:
    """Save the state cache whole or not at all (a temporary file beside it, then a rename)."""
    if path is None:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, default_mode())
        cache.path = Path(tmp)
        cache.save()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        cache.path = path


def _write_whole(outdir: Path, write: Callable[[Path], dict[str, Path]]) -> None:
    """Run ``write`` into a staging folder inside ``outdir``, then move every file in: the
    results appear whole or not at all (a folder this call created is removed on failure)."""
    created = not outdir.exists()
    outdir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".decrypt-", dir=outdir))
    try:
        for written in write(staging).values():
            os.replace(written, outdir / written.name)
    except BaseException:
        if created:
            shutil.rmtree(outdir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _short(sid: str) -> str:
    return sid.split(":")[0][:8]


_MODES = {"Main Mode": "MM", "Aggressive Mode": "AM"}
_AUTH = {"pre-shared key": "PSK", "RSA signatures": "RSA sig"}


def _sa(s: dict[str, Any]) -> str:
    text = f"{_short(s['id'])}\nIKEv{s['version']}"
    if s["version"] == 1:
        text += " " + " ".join(x for x in (_MODES.get(s.get("exchange", ""), ""),
                                           _AUTH.get(s.get("auth", ""), s.get("auth", ""))) if x)
    return text


def _keys(s: dict[str, Any]) -> str:
    keys = s.get("keys") or {}
    wanted = ("Ka", "g_xy") if s.get("version") == 1 else ("SK_ei", "SK_er")
    return "\n".join(f"{k} {keys[k][:8]}…" for k in wanted if k in keys) or "-"


def _result(s: dict[str, Any]) -> str:
    if "failure" in s:
        return f"[red]{safe(s['failure'])}[/]"
    lines = ["[green]decrypted[/]"]
    psk = s.get("psk") or {}
    if psk.get("source") == "cracked":
        lines.append(f"PSK cracked: [bold]{safe(psk['value'])}[/] ({psk['guesses']} guesses)")
    check = s.get("auth_check", "not checked")
    if check != "not checked":
        lines.append(check.replace(" with the sender's certificate", " (cert)"))
    return "\n".join(lines)


def summary(report: dict[str, Any], outdir: Path) -> None:
    """Print one row per IKE SA: version/mode, peers, who unlocked it, keys, packets, outcome."""
    table = Table(title="kleptolab decrypt", show_lines=True)
    for column in ("IKE SA", "peers", "unlocked by", "keys", "packets", "result"):
        table.add_column(column, overflow="fold")
    for s in report.get("sessions", []):
        draw = s.get("dh_draw") or {}
        unlocked = "-"
        if "unlocked_by" in s:
            who = "own nonce" if s["unlocked_by"] == s["id"] else f"SA {_short(s['unlocked_by'])}"
            unlocked = f"{who}\ndraw +{draw.get('offset', '?')}"
        rec = s.get("recovery") or {}
        if rec.get("how") == "predicted":
            unlocked += f"\nNr predicted (SA {_short(rec['from_session'])} +{rec['draw']})"
        elif rec:
            unlocked += f"\nNr state: {rec['how']}"
        packets = f"ESP {s.get('esp_packets', 0)}"
        if "ike_messages_decrypted" in s:
            done = s["ike_messages_decrypted"]
            packets = f"IKE {done}/{done + s['ike_messages_failed']}\n{packets}"
        table.add_row(_sa(s), f"{s['initiator']}\n→ {s['responder']}", unlocked, _keys(s), packets, _result(s))
    console.print(table)
    esp = report.get("esp", [])
    ok = sum(e["decrypted"] for e in esp)
    total = sum(e["packets"] for e in esp)
    t = report.get("timings", {})
    console.print(f"ESP: {ok}/{total} packets decrypted in {len(esp)} SAs; "
                  f"{t.get('total_s', 0)} s (state recovery {t.get('recovery_s', 0)} s); outputs in {safe(outdir)}",
                  soft_wrap=True)
    for warning in report.get("warnings", []) or []:
        warn(warning)


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    app.command("decrypt")(decrypt)

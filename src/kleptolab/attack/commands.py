"""CLI commands of `kleptolab.attack`: ``kleptolab decrypt`` (passive; never sends a packet)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kleptolab.ui import (
    check_input_file,
    check_output_dir,
    check_output_file,
    console,
    fail,
    progress,
    safe,
    warn,
)

DEFAULT_WINDOW = 2048  # = kleptolab.attack.forward.DEFAULT_WINDOW (not imported: keeps `kleptolab --help` fast)
STAGES = ("reading captures", "recovering Dual EC states", "attacking IKE SAs", "decrypting ESP")
MAX_STEPS = 4096
"""Most PRNG outputs walked forward per recovered state (the default 64 covers a busy gateway)."""
OUTPUT_NAMES = ("ikev1_decryption_table", "ikev2_decryption_table", "esp_sa", "plaintext.pcap",
                "report.json")


def decrypt(
    captures: Annotated[list[str], typer.Argument(
        help="pcap/pcapng captures (gzip welcome): files, folders (their *.pcap, *.pcapng, *.cap, *.gz) or globs")],
    trapdoor: Annotated[Path, typer.Option("--trapdoor", help="attacker key file (kleptolab-dualec-trapdoor)")],
    outdir: Annotated[Path, typer.Option("-o", "--outdir", help="where to write tables, plaintext.pcap, report.json")],
    psk: Annotated[str | None, typer.Option("--psk", help="IKEv1 pre-shared key, if known")] = None,
    psk_wordlist: Annotated[Path | None, typer.Option("--psk-wordlist", help="IKEv1 PSK guesses, one per line")] = None,
    steps: Annotated[int, typer.Option(help="PRNG outputs walked forward from each state")] = 64,
    exponent_bytes: Annotated[int, typer.Option(help="bytes of one PRNG output cut as a DH exponent")] = 20,
    quirk_shifts: Annotated[int, typer.Option(
        help="also sweep nonces whose Dual EC block lost N leading zero bytes (BN_bn2bin quirk); "
             "each extra shift costs one more sweep")] = 0,
    engine: Annotated[str, typer.Option(help="local | dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://HOST:PORT); default: a LocalCluster for this run")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel workers (default: all cores)")] = None,
    state_cache: Annotated[Path | None, typer.Option(
        "--state-cache", "--state-store",
        help="SQLite store of recovered states by gateway (created if missing; shared by parallel runs)")] = None,
    window: Annotated[int, typer.Option(
        help="PRNG calls walked forward from a gateway's stored states before sweeping")] = DEFAULT_WINDOW,
    ike_port: Annotated[list[int] | None, typer.Option(
        "--ike-port", help="read this UDP port as IKE/NAT-T (repeatable; IKE is also found by content)")] = None,
) -> None:
    """Decrypt IKE and ESP in CAPTURES passively with the lab's Dual EC trapdoor.

    One capture: outputs in OUTDIR.  Several: OUTDIR/<capture name>/ each, plus
    OUTDIR/report.json merging them (gateways, sweeps, totals).
    """
    from kleptolab.attack.decryptor import DecryptOptions
    from kleptolab.attack.engine import EngineUnavailable, make_engine
    from kleptolab.attack.pipeline import decrypt_many
    from kleptolab.attack.psk_crack import read_wordlist
    from kleptolab.attack.store import StateStore
    from kleptolab.drbg.trapdoor import load_trapdoor

    files = expand_captures(captures)
    check_input_file(trapdoor, "key file")
    if psk_wordlist is not None:
        check_input_file(psk_wordlist, "PSK wordlist")
    if not 1 <= steps <= MAX_STEPS:
        fail(f"--steps must be 1..{MAX_STEPS} (each step is one Dual EC output per state), got {steps}")
    if not 0 <= quirk_shifts <= 4:
        fail("--quirk-shifts must be between 0 and 4")
    if not 1 <= exponent_bytes <= 32:
        fail("--exponent-bytes must be between 1 and 32")
    if not 0 <= window <= 1 << 20:
        fail("--window must be between 0 and 1048576")
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
    dirs = _output_dirs(outdir, files)
    for d in dirs:
        for name in OUTPUT_NAMES:
            if (d / name).is_dir():
                fail(f"--outdir {d}: {name} is a folder; it would be overwritten by a file")
    check_output_dir(outdir, "--outdir", create=False)
    new_store = state_cache is not None and not state_cache.exists()
    try:
        key = load_trapdoor(trapdoor)
        words = tuple(read_wordlist(psk_wordlist)) if psk_wordlist is not None else ()
        store = StateStore(state_cache)
    except ValueError as exc:
        if new_store and state_cache is not None:
            _remove_store(state_cache)
            fail(f"cannot create the state store {state_cache}: {exc} (nothing written)")
        fail(str(exc))
    try:
        runner = make_engine(engine, workers, scheduler=scheduler)
    except (ValueError, EngineUnavailable) as exc:
        store.close()
        fail(str(exc))
    options = DecryptOptions(steps=steps, exponent_bytes=exponent_bytes, quirk_shifts=quirk_shifts,
                             psk=psk.encode() if psk is not None else None, psk_wordlist=words, window=window,
                             ike_ports=ike_ports)
    created = [d for d in dict.fromkeys([outdir, *dirs]) if not d.exists()]
    try:
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        runner.close()
        store.close()
        _undo(created, [])
        fail(f"cannot create {outdir}: {exc.strerror or exc}")
    streams = [d / ".plaintext.pcap.stream" for d in dirs]
    try:
        with progress() as bar:
            tasks = {stage: bar.add_task(stage, total=None) for stage in STAGES}

            def tick(what: str, done: int, total: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=None)
                bar.update(tasks[what], completed=done, total=total)

            try:
                run = decrypt_many(files, key, runner, store, options, progress=tick, plaintext_paths=streams)
            except ValueError as exc:
                fail(str(exc))
    except OSError as exc:
        _undo(created, streams)
        fail(f"cannot write the results to {outdir}: {exc.strerror or exc} (nothing written)")
    except BaseException:
        _undo(created, streams)
        raise
    finally:
        runner.close()
        store.close()
    try:
        _write(run, dirs, streams, outdir)
    except OSError as exc:
        _undo(created, streams)
        fail(f"cannot write the results to {outdir}: {exc.strerror or exc} (nothing written)")
    if len(run.captures) == 1:
        summary(run.captures[0].report, outdir)
    else:
        merged_summary(run.report, outdir)


def _remove_store(path: Path) -> None:
    """Remove a state store this run began to create (SQLite's -wal and -shm files too)."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            name.unlink()


def _undo(created: list[Path], streams: list[Path]) -> None:
    """Take back what a failed run wrote: its plaintext streams and the folders it created."""
    for stream in streams:
        with contextlib.suppress(OSError):
            stream.unlink()
    for folder in reversed(created):
        shutil.rmtree(folder, ignore_errors=True)


def expand_captures(items: list[str]) -> list[Path]:
    """Files as given, folders' capture files (sorted), globs (sorted); fail on none or a missing one."""
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_CAPTURE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        elif any(c in item for c in "*?["):
            found += sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
        elif path.exists():
            check_input_file(path, "capture")  # a device, FIFO or socket: says so
        else:
            fail(f"capture not found: {item}")
    unique = list(dict.fromkeys(found))
    if not unique:
        fail(f"no capture files in {' '.join(items)}")
    return unique


_CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _output_dirs(outdir: Path, files: list[Path]) -> list[Path]:
    if len(files) == 1:
        return [outdir]
    names: dict[str, int] = {}
    dirs = []
    for f in files:
        stem = f.name.split(".")[0] or "capture"
        names[stem] = names.get(stem, 0) + 1
        dirs.append(outdir / (stem if names[stem] == 1 else f"{stem}-{names[stem]}"))
    return dirs


def _write(run: Any, dirs: list[Path], streams: list[Path], outdir: Path) -> None:
    """Write every capture's outputs into staging folders, then move them all in: the results
    appear whole or not at all."""
    from kleptolab.attack.outputs import write_outputs

    staged: list[tuple[Path, Path]] = []
    try:
        for capture, d, stream in zip(run.captures, dirs, streams, strict=True):
            staging = Path(tempfile.mkdtemp(prefix=".decrypt-", dir=d))
            staged.append((d, staging))
            write_outputs(staging, ikev1=capture.ikev1, ikev2=capture.ikev2, esp=capture.esp,
                          plaintext=(), report=capture.report)
            if stream.exists():
                os.replace(stream, staging / "plaintext.pcap")
        if len(run.captures) > 1:
            staging = Path(tempfile.mkdtemp(prefix=".decrypt-", dir=outdir))
            staged.append((outdir, staging))
            (staging / "report.json").write_text(json.dumps(run.report, indent=2) + "\n", encoding="utf-8")
        for d, staging in staged:
            for written in staging.iterdir():
                os.replace(written, d / written.name)
    finally:
        for _, staging in staged:
            shutil.rmtree(staging, ignore_errors=True)


def merged_summary(report: dict[str, Any], outdir: Path) -> None:
    """One line per gateway (sessions, sweeps), then the totals of a many-capture run."""
    table = Table(title="kleptolab decrypt (many captures)")
    for column in ("gateway", "sessions", "sweeps", "window calls"):
        table.add_column(column)
    for gateway, g in sorted(report["gateways"].items()):
        table.add_row(gateway, str(g["sessions"]), str(g["sweeps"]), str(g["window_calls"]))
    console.print(table)
    t = report["timings"]
    console.print(f"{len(report['captures'])} captures, {report['sessions_decrypted']}/{report['sessions']} IKE SAs "
                  f"decrypted, {report['sweeps']} sweeps; ESP: {report['esp_decrypted']}/{report['esp_packets']} "
                  f"packets decrypted; {t['total_s']} s; outputs in {safe(outdir)}", soft_wrap=True)


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

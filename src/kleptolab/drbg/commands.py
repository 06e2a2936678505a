"""CLI commands of ``kleptolab.drbg``: ``keygen``, ``prng`` and ``recover``."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer

from kleptolab.ui import (
    check_input_file,
    check_output_file,
    console,
    fail,
    progress,
    safe,
    write_files_atomically,
)


def _parse_hex(text: str, what: str) -> bytes:
    cleaned = text.strip().replace(":", "").replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        fail(f"{what} is not a hex string: {text!r}")


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def keygen(
    output: Annotated[Path, typer.Option("-o", "--output", help="Attacker key file (keeps d).")],
    curve: Annotated[str, typer.Option(help="P-256, P-384 or P-521.")] = "P-256",
    public_out: Annotated[
        Path | None, typer.Option(help="Also write the public Q file (firmware).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Generate the lab's own Dual EC trapdoor: Q = e*P, d = 1/e mod n.

    Both files are written, or neither (the key file is private, mode 0600).
    """
    from kleptolab.drbg.curves import curve_by_name
    from kleptolab.drbg.trapdoor import generate_trapdoor

    try:
        chosen = curve_by_name(curve)
    except ValueError as exc:
        fail(str(exc))
    for path, what in ((output, "key file"), (public_out, "--public-out")):
        if path is None:
            continue
        if path.exists() and not path.is_dir() and not force:
            fail(f"{what} {path} exists; use --force to overwrite")
        check_output_file(path, what)
    if public_out is not None and public_out.resolve() == output.resolve():
        fail("--public-out must name another file than --output")
    trapdoor = generate_trapdoor(chosen)
    files = {output: _json_bytes(trapdoor.to_json())}
    if public_out is not None:
        files[public_out] = _json_bytes(trapdoor.public_json())
    try:
        write_files_atomically(files, modes={output: 0o600})
    except OSError as exc:
        fail(f"cannot write the key files (none written): {exc.strerror or exc}")
    width = 2 * chosen.size
    console.print(
        f"[bold]trapdoor[/] ({chosen.name}) written to {safe(output)} (keep it secret: it holds d)"
    )
    console.print(f"Qx = {trapdoor.q[0]:0{width}x}")
    console.print(f"Qy = {trapdoor.q[1]:0{width}x}")
    if public_out is not None:
        console.print(f"public Q written to {safe(public_out)}")


def prng(
    profile: Annotated[
        str, typer.Option(help="ScreenOS release, e.g. 6.3.0r20 or 6.1.0r7.")
    ] = "6.3.0r20",
    trapdoor: Annotated[
        Path | None, typer.Option(help="Key file holding Q (attacker or public file).")
    ] = None,
    count: Annotated[
        int,
        typer.Option("-n", "--count", min=1, max=100_000, help="Number of prng_generate() calls."),
    ] = 4,
    seed: Annotated[
        str | None, typer.Option(help="Dual EC seed s0 as hex (default: random).")
    ] = None,
    one_stage_rng: Annotated[
        bool, typer.Option(help="As 'set key one-stage-rng': no reseed.")
    ] = False,
    fix_cascade_bug: Annotated[
        bool, typer.Option(help="Give the X9.31 loop a local index.")
    ] = False,
    bn2bin_quirk: Annotated[
        bool, typer.Option(help="Emulate the unpadded BN_bn2bin writes.")
    ] = True,
    show_state: Annotated[
        bool, typer.Option(help="Print the Dual EC state after each call.")
    ] = False,
) -> None:
    """Run the emulated ScreenOS PRNG and print its outputs."""
    from kleptolab.device.profiles import profile_for
    from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
    from kleptolab.drbg.trapdoor import load_public_q

    try:
        generation = profile_for(profile).prng
    except ValueError as exc:
        fail(str(exc))
    q = None
    if generation is PrngGeneration.DUALEC_X931:
        if trapdoor is None:
            fail(f"ScreenOS {profile} runs Dual EC: pass --trapdoor with the lab's Q")
        check_input_file(trapdoor, "key file")
        try:
            curve, q = load_public_q(trapdoor)
        except ValueError as exc:
            fail(str(exc))
        if curve.name != "P-256":
            fail(f"ScreenOS uses P-256, but {trapdoor} holds a {curve.name} Q")
    if seed is not None:
        text = seed.strip().replace(":", "").replace(" ", "")
        try:
            s0 = int(text.removeprefix("0x").removeprefix("0X"), 16)
        except ValueError:
            fail(f"--seed is not a hex string: {seed!r}")
        if not 0 < s0 < 2**256:
            fail(f"--seed must be a non-zero hex number of at most 32 bytes, got {seed!r}")
    else:
        s0 = secrets.randbits(256) | 1
    try:
        generator = ScreenOsPrng(
            generation,
            q=q,
            seed=s0,
            one_stage_rng=one_stage_rng,
            bn2bin_quirk=bn2bin_quirk,
            fix_cascade_bug=fix_cascade_bug,
        )
    except ValueError as exc:
        fail(str(exc))
    console.print(f"[bold]ScreenOS {profile}[/] prng_generate() x {count}")
    for _ in range(count):
        out = generator.generate()
        console.print(f"{generator.calls:>6}  {out.hex()}", soft_wrap=True)
        state = generator.dual_ec_state
        if show_state and state is not None:
            console.print(f"        state {state:064x}", soft_wrap=True)


def recover(
    output: Annotated[
        str, typer.Argument(help="Observed 32-byte ScreenOS output (e.g. an IKE nonce), hex.")
    ],
    trapdoor: Annotated[Path, typer.Option(help="Attacker key file (holds d).")],
    next_output: Annotated[
        str | None, typer.Option("--next", help="A later output to confirm with, hex.")
    ] = None,
    predict: Annotated[
        int, typer.Option(min=0, max=1000, help="Predicted outputs to print per state.")
    ] = 2,
    workers: Annotated[
        int | None, typer.Option(min=1, max=512, help="Processes (default: all cores).")
    ] = None,
) -> None:
    """Recover the Dual EC state from one 32-byte output with the trapdoor."""
    from kleptolab.drbg.dualec import dualec32
    from kleptolab.drbg.recover import SCREENOS_30_2, confirm_states, recover_states
    from kleptolab.drbg.trapdoor import load_trapdoor

    observed = _parse_hex(output, "OUTPUT")
    if len(observed) != SCREENOS_30_2.observed_len:
        fail(f"OUTPUT must be {SCREENOS_30_2.observed_len} bytes, got {len(observed)}")
    later = _parse_hex(next_output, "--next") if next_output is not None else None
    if later is not None and not 0 < len(later) <= 32:
        fail(f"--next must be 1 to 32 bytes, got {len(later)}")
    check_input_file(trapdoor, "key file")
    try:
        key = load_trapdoor(trapdoor)
    except ValueError as exc:
        fail(str(exc))
    if key.curve.name != "P-256":
        fail(f"ScreenOS recovery needs a P-256 trapdoor, {trapdoor} is {key.curve.name}")
    with progress() as bar:
        task = bar.add_task("2^16 prefix sweep", total=SCREENOS_30_2.candidates)
        states = recover_states(
            observed,
            key,
            workers=workers,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    if later is not None:
        states = confirm_states(states, key, next_output=later)
    if not states:
        fail("no state reproduces this output with this trapdoor", code=1)
    note = "confirmed by --next" if later is not None else "unconfirmed: pass --next to settle"
    console.print(f"[bold]{len(states)}[/] candidate state(s) ({note})")
    for state in states:
        console.print(f"state s2 = {state:064x}", soft_wrap=True)
        current = state
        for step in range(1, predict + 1):
            out, current = dualec32(current, key.q)
            console.print(f"  next output +{step}: {out.hex()}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    app.command("keygen")(keygen)
    app.command("prng")(prng)
    app.command("recover")(recover)

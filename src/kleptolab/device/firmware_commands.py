"""CLI commands for firmware images: ``kleptolab firmware build`` and ``firmware info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kleptolab import ui

firmware_app = typer.Typer(help="Build and inspect lab ScreenOS firmware images.",
                           no_args_is_help=True)


@firmware_app.command("build")
def build(
    profile: Annotated[str, typer.Option("--profile", help="Release, e.g. 6.3.0r20.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file to write.")],
    trapdoor: Annotated[Path | None, typer.Option("--trapdoor", help="Lab trapdoor (or public Q) JSON; needed where the real release carried the unauthorized Q.")] = None,
    master_password: Annotated[str | None, typer.Option("--master-password", help="Master password for 6.3.0r17-r20 builds.")] = None,
) -> None:
    """Build the lab image of one release (the file is written whole or not at all)."""
    from kleptolab.device.firmware import build_image, parse_image
    from kleptolab.device.profiles import QKind, profile_for
    from kleptolab.drbg.trapdoor import load_public_q

    try:
        prof = profile_for(profile)
    except ValueError as exc:
        ui.fail(str(exc))
    ui.check_output_file(output, "--output")
    q = None
    if trapdoor is not None:
        ui.check_input_file(trapdoor, "key file")
        try:
            curve, q = load_public_q(trapdoor)
        except ValueError as exc:
            ui.fail(str(exc))
        if curve.name != "P-256":
            ui.fail(f"{trapdoor}: the firmware needs a P-256 Q, this one is on {curve.name}")
    elif prof.q_kind is QKind.UNAUTHORIZED:
        ui.fail(f"ScreenOS {prof.name} carries the unauthorized Q; the lab stands in its own "
                "trapdoor Q there: pass --trapdoor key.json (kleptolab keygen makes one)")
    try:
        image = build_image(prof, trapdoor_q=q, master_password=master_password)
    except ValueError as exc:
        ui.fail(str(exc))
    try:
        with ui.atomic_write(output, binary=True) as fh:
            fh.write(image)
    except OSError as exc:
        ui.fail(f"cannot write {output} (nothing written): {exc.strerror or exc}")
    parsed = parse_image(image)
    ui.console.print(f"wrote {ui.safe(output)}: ScreenOS {parsed.version}, {len(image)} bytes, "
                     f"Qx {parsed.q_x_text or 'none'}, master password "
                     f"{'present' if parsed.master_password else 'absent'}", soft_wrap=True)


@firmware_app.command("info")
def info(
    image: Annotated[Path, typer.Argument(help="Image file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify an image (magic, checksums) and print what the loader finds in it."""
    from kleptolab.device.firmware import parse_image

    ui.check_input_file(image, "image")
    try:
        parsed = parse_image(image.read_bytes())
    except OSError as exc:
        ui.fail(f"{image}: cannot read ({exc.strerror or exc})")
    except ValueError as exc:
        ui.fail(f"{image}: {exc}")
    fields = {
        "version": str(parsed.version),
        "build_stamp": parsed.build_stamp,
        "q_kind": parsed.profile.q_kind.value,
        "q_x": parsed.q_x_text,
        "kat": parsed.kat.hex() if parsed.kat else None,
        "master_password": parsed.master_password,
        "body_checksum": f"{parsed.body_checksum:#010x}",
        "header_checksum": f"{parsed.header_checksum:#010x}",
        "size": parsed.size,
    }
    if as_json:
        typer.echo(json.dumps(fields, indent=2))
    else:
        for key, value in fields.items():
            ui.console.print(f"{key:16} {ui.printable(str(value if value is not None else '-'))}",
                             markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``firmware`` command group to ``app``."""
    app.add_typer(firmware_app, name="firmware")

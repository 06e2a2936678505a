"""CLI commands ``kleptolab pki``: lab credentials for RSA-signature VPNs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kleptolab.ui import check_output_dir, console, fail

pki_app = typer.Typer(
    help="Lab PKI for RSA-signature VPNs (a CA, gateway and client certificates).",
    no_args_is_help=True,
)


@pki_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write the files to.")],
    gateway_id: Annotated[
        str, typer.Option(help="The gateway's IKE identity (certificate name).")
    ] = "gw.example",
    client_id: Annotated[
        str, typer.Option(help="The client's IKE identity (certificate name).")
    ] = "client.example",
    key_size: Annotated[
        int, typer.Option(min=1024, max=4096, help="RSA key size in bits (1024..4096).")
    ] = 2048,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a lab CA, a gateway and a client key/certificate, and a gateway config using them."""
    from kleptolab.device.pki import PkiError, init_pki

    for option, identity in (("--gateway-id", gateway_id), ("--client-id", client_id)):
        if (
            not 1 <= len(identity) <= 64
            or not identity.isprintable()
            or identity != identity.strip()
        ):
            fail(
                f"{option} must be 1 to 64 printable characters without outer spaces, got {identity!r}"
            )
    check_output_dir(directory, "PKI folder", create=False)
    try:
        files = init_pki(
            directory,
            gateway_id=gateway_id,
            client_id=client_id,
            key_size=key_size,
            overwrite=force,
        )
    except PkiError as exc:
        fail(str(exc))
    for path in files.all:
        console.print(f"wrote {path}", soft_wrap=True, markup=False)
    console.print(
        "try: kleptolab gateway --firmware IMAGE --config "
        f"{files.config}\n     kleptolab client --key {files.client_key} "
        f"--cert {files.client_cert} --ca {files.ca_cert} [-V 2]",
        soft_wrap=True,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``pki`` command group to ``app``."""
    app.add_typer(pki_app, name="pki")

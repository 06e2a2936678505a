"""CLI command `kleptolab client` (the VPN initiator)."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from kleptolab.ui import check_input_file, console, fail

DEFAULT_PSK = "not-a-real-secret"


MAX_TIMEOUT = 3600.0
MAX_REQUESTS = 1000


def _make_client(
    server: str,
    *,
    psk: str | None,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    local_id: str,
    **options: Any,
) -> Any:
    """Build the :class:`VpnClient` from the options; ``fail`` (exit 2) on any bad input."""
    from kleptolab.device.client import VpnClient
    from kleptolab.device.pki import load_credentials

    rsa = None
    if cert is not None or key is not None or ca is not None:
        if cert is None or key is None or ca is None:
            fail("RSA signatures need all of --cert, --key and --ca")
        if psk is not None:
            fail("give --psk or --cert/--key/--ca, not both")
        check_input_file(key, "--key")
        check_input_file(cert, "--cert")
        check_input_file(ca, "--ca")
        try:
            rsa = load_credentials(key, cert, ca, local_id)
        except ValueError as exc:
            fail(str(exc))
    try:
        return VpnClient(
            server,
            psk=None if rsa else (psk or DEFAULT_PSK).encode(),
            private_key=rsa.key_pem if rsa else None,
            certificate=rsa.cert_der if rsa else None,
            trusted_ca=rsa.ca_der if rsa else None,
            local_id=local_id,
            **options,
        )
    except ValueError as exc:
        fail(str(exc))


def _server_address(server: str) -> str:
    """``server`` as an IPv4 address (a name is looked up once); ``fail`` when it has none."""
    if not server.strip():
        fail("give the gateway's address, e.g. 127.0.0.1")
    try:
        return str(ipaddress.IPv4Address(server))
    except ValueError:
        pass
    try:
        return socket.gethostbyname(server)
    except (OSError, UnicodeError):
        fail(f"unknown host {server!r}: give the gateway's IPv4 address")


def _udp_targets(targets: list[str], remote_ts: Any) -> list[tuple[str, int]]:
    """Parse ``ip:port`` targets; each must lie in the protected network (``--remote-ts``)."""
    out = []
    for target in targets:
        host, sep, port = target.rpartition(":")
        try:
            address = ipaddress.IPv4Address(host)
            number = int(port)
            if not sep or not 1 <= number <= 65535:
                raise ValueError
        except ValueError:
            fail(f"--udp {target!r} is not an inner service IP:PORT, e.g. 198.51.100.10:7")
        if address not in remote_ts:
            fail(f"--udp {target}: {address} is outside the protected network {remote_ts}")
        out.append((str(address), number))
    return out


async def _run(
    client: Any, udp: list[tuple[str, int]], messages: int, pings: int, timeout: float
) -> int:
    lost = 0
    try:
        child = await client.connect(timeout=timeout)
        console.print(
            f"tunnel up: {child.local_ts} <-> {child.remote_ts}  ESP {child.encr.value.name}/"
            f"{child.integ.value.name}  SPI in {child.spi_in.hex()} out {child.spi_out.hex()}",
            soft_wrap=True,
            markup=False,
        )
        for host, port in udp:
            target = f"{host}:{port}"
            for n in range(messages):
                payload = f"kleptolab message {n + 1} to {target}".encode()
                reply = await client.send_udp((host, port), payload, timeout=timeout)
                lost += reply is None
                shown = "no reply" if reply is None else repr(reply.decode(errors="replace"))
                console.print(
                    f"udp {target}  sent {payload.decode()!r}  reply {shown}",
                    soft_wrap=True,
                    markup=False,
                )
        if pings:
            host = str(
                client.config.remote_ts.network_address
                + (1 if client.config.remote_ts.num_addresses > 1 else 0)
            )
            for seq, rtt in enumerate(
                await client.ping(host, count=pings, timeout=timeout), start=1
            ):
                lost += rtt is None
                console.print(
                    f"ping {host} seq={seq} "
                    + ("lost" if rtt is None else f"time={rtt * 1000:.1f} ms"),
                    soft_wrap=True,
                    markup=False,
                )
    finally:
        await client.close()
    return lost


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""

    @app.command(
        "client",
        epilog="Exit codes: 0 tunnel up and every request answered, 1 no tunnel or lost replies "
        "(the reason on stderr), 2 bad input.",
    )
    def client(
        server: Annotated[str, typer.Argument(help="Gateway address.")] = "127.0.0.1",
        ike_port: Annotated[
            int, typer.Option(min=1, max=65535, help="Gateway IKE port (500 on a real device).")
        ] = 10500,
        natt_port: Annotated[
            int,
            typer.Option(min=1, max=65535, help="Gateway NAT-T port (4500 on a real device)."),
        ] = 14500,
        version: Annotated[
            int, typer.Option("--ike-version", "-V", help="IKE version: 1 or 2.")
        ] = 1,
        aggressive: Annotated[
            bool, typer.Option(help="IKEv1 Aggressive Mode instead of Main Mode.")
        ] = False,
        proposal: Annotated[
            str | None,
            typer.Option(
                help="Phase-1 proposal (ScreenOS name; default pre-g2-3des-sha, "
                "or rsa-g2-3des-sha with --cert)."
            ),
        ] = None,
        esp_proposal: Annotated[
            str,
            typer.Option(help="Phase-2 proposal (ScreenOS name; 'nopfs-esp-...' disables PFS)."),
        ] = "g2-esp-3des-sha",
        psk: Annotated[
            str | None, typer.Option(help=f"Pre-shared key (default {DEFAULT_PSK!r}).")
        ] = None,
        cert: Annotated[
            Path | None,
            typer.Option(help="Our certificate (PEM/DER) for RSA signatures (kleptolab pki init)."),
        ] = None,
        key: Annotated[
            Path | None, typer.Option(help="Our RSA private key (PEM/DER, unencrypted).")
        ] = None,
        ca: Annotated[
            Path | None, typer.Option(help="CA certificate that issued the gateway's certificate.")
        ] = None,
        local_id: Annotated[str, typer.Option(help="Our IKE identity.")] = "client.example",
        remote_id: Annotated[str, typer.Option(help="The gateway's IKE identity.")] = "gw.example",
        local_ts: Annotated[
            str, typer.Option(help="Our inner address (traffic selector).")
        ] = "203.0.113.1/32",
        remote_ts: Annotated[str, typer.Option(help="The protected network.")] = "198.51.100.0/24",
        udp: Annotated[
            list[str] | None,
            typer.Option(help="Inner UDP service ip:port to message (repeatable)."),
        ] = None,
        messages: Annotated[
            int,
            typer.Option(
                "--messages", "-n", min=0, max=MAX_REQUESTS, help="UDP messages per service."
            ),
        ] = 3,
        pings: Annotated[
            int,
            typer.Option(min=0, max=MAX_REQUESTS, help="ICMP echo requests to the protected host."),
        ] = 3,
        timeout: Annotated[
            float, typer.Option(help="Seconds to wait for the tunnel and each reply.")
        ] = 5.0,
    ) -> None:
        """Connect to a gateway as a VPN initiator (PSK, or RSA signatures with --cert/--key/--ca),
        send inner UDP messages and pings, print the replies."""
        if version not in (1, 2):
            fail(f"--ike-version must be 1 or 2, got {version}")
        if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
            fail(
                f"--timeout must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds, got {timeout}"
            )
        for option, identity in (("--local-id", local_id), ("--remote-id", remote_id)):
            if not 1 <= len(identity) <= 255 or not identity.isprintable():
                fail(f"{option} must be 1 to 255 printable characters, got {identity!r}")
        for option, network in (("--local-ts", local_ts), ("--remote-ts", remote_ts)):
            try:
                ipaddress.IPv4Network(network)
            except ValueError as exc:
                fail(f"{option} {network!r} is not an IPv4 network ({exc})")
        vpn = _make_client(
            _server_address(server),
            psk=psk,
            cert=cert,
            key=key,
            ca=ca,
            local_id=local_id,
            ike_port=ike_port,
            natt_port=natt_port,
            version=version,
            aggressive=aggressive,
            proposal=proposal,
            esp_proposal=esp_proposal,
            remote_id=remote_id,
            local_ts=local_ts,
            remote_ts=remote_ts,
        )
        targets = _udp_targets(
            udp if udp is not None else ["198.51.100.10:7"], vpn.config.remote_ts
        )
        try:
            lost = asyncio.run(_run(vpn, targets, messages, pings, timeout))
        except (TimeoutError, ConnectionError, ValueError, OSError) as exc:
            fail(str(exc), code=1)
        if lost:
            fail(f"{lost} request(s) got no reply", code=1)

"""CLI command ``kleptolab gateway``: boot the emulated NetScreen from a firmware image and serve."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from kleptolab.ui import check_input_file, console, fail, safe

MAX_RUN_FOR = 7 * 24 * 3600.0
"""The longest ``--run-for`` (a week); without it the gateway runs until stopped."""


def _overrides(
    seed: str | None, listen: str | None, ports: dict[str, int | None], syslog: str | None,
    syslog_format: str | None, host_key: Path | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if seed is not None:
        out["seed"] = seed.removeprefix("0x")
    if listen is not None:
        out["listen"] = listen
    chosen = {k: v for k, v in ports.items() if v is not None}
    if chosen:
        out["ports"] = chosen
    table: dict[str, Any] = {}
    if syslog is not None:
        table["target"] = syslog
    if syslog_format is not None:
        table["format"] = syslog_format
    if table:
        out["syslog"] = table
    if host_key is not None:
        out["console"] = {"ssh_host_key": str(host_key.resolve())}
    return out


async def _serve(gateway: Any, run_for: float | None, show_events: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if show_events:
        for entry in gateway.event_log.entries:
            console.print(entry.text, markup=False, soft_wrap=True)
        gateway.event_log.add_sink(lambda e: console.print(e.text, markup=False, soft_wrap=True))
    await gateway.start()
    try:
        for line in gateway.status_lines():
            console.print(f"[bold cyan]gateway[/] {safe(line)}", soft_wrap=True)
        console.print("[dim]Ctrl-C or SIGTERM stops the gateway.[/]")
        if run_for is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), run_for)
        else:
            await stop.wait()
    finally:
        await gateway.stop()
        console.print("[bold cyan]gateway[/] stopped")


def register(app: typer.Typer) -> None:
    """Add ``kleptolab gateway`` and the ``kleptolab pki`` group to ``app``."""
    from kleptolab.device.pki_commands import register as register_pki

    register_pki(app)

    @app.command()
    def gateway(
        firmware: Annotated[Path, typer.Option("--firmware", help="Firmware image to boot (kleptolab firmware build).")],
        config: Annotated[Path | None, typer.Option("--config", help="Gateway configuration (.toml or .json).")] = None,
        seed: Annotated[str | None, typer.Option("--seed", "--trapdoor-seed", help="Dual EC start state in hex, for reproducible PRNG output.")] = None,
        listen: Annotated[str | None, typer.Option("--listen", help="Address to listen on (loopback unless the config allows more).")] = None,
        ike_port: Annotated[int | None, typer.Option("--ike-port", min=0, max=65535, help="IKE port (default 10500; 0 = any free port).")] = None,
        natt_port: Annotated[int | None, typer.Option("--natt-port", min=0, max=65535, help="NAT-T port (default 14500).")] = None,
        ssh_port: Annotated[int | None, typer.Option("--ssh-port", min=0, max=65535, help="SSH admin port (default 2222).")] = None,
        telnet_port: Annotated[int | None, typer.Option("--telnet-port", min=0, max=65535, help="Telnet admin port (default 2323).")] = None,
        syslog: Annotated[str | None, typer.Option("--syslog", help="Loopback syslog collector HOST:PORT, e.g. 127.0.0.1:5514.")] = None,
        syslog_format: Annotated[str | None, typer.Option("--syslog-format", help="rfc5424 or bsd.")] = None,
        host_key: Annotated[Path | None, typer.Option("--host-key", help="SSH host key file (default: a fresh ephemeral key).")] = None,
        run_for: Annotated[float | None, typer.Option("--run-for", help="Stop after this many seconds (demos, tests).")] = None,
        show_events: Annotated[bool, typer.Option("--events/--no-events", help="Print event-log lines as they happen.")] = True,
    ) -> None:
        """Boot the emulated NetScreen gateway from FIRMWARE and serve IKE, SSH and Telnet."""
        from kleptolab.device.config import ConfigError, load_config
        from kleptolab.device.gateway import BootError, Gateway

        check_input_file(firmware, "firmware image")
        if config is not None:
            check_input_file(config, "configuration")
        if host_key is not None:
            check_input_file(host_key, "SSH host key")
        if run_for is not None and not (math.isfinite(run_for) and 0 < run_for <= MAX_RUN_FOR):
            fail(f"--run-for must be more than 0 and at most {MAX_RUN_FOR:.0f} seconds, got {run_for}")
        ports = {"ike": ike_port, "natt": natt_port, "ssh": ssh_port, "telnet": telnet_port}
        try:
            settings = load_config(
                config, **_overrides(seed, listen, ports, syslog, syslog_format, host_key)
            )
        except ConfigError as exc:
            fail(str(exc))
        _check_host_key(settings.console.ssh_host_key)
        try:
            gw = Gateway(settings, image=_read(firmware))
        except BootError as exc:
            fail(str(exc))
        try:
            asyncio.run(_serve(gw, run_for, show_events))
        except (OSError, ValueError) as exc:
            fail(f"cannot start the gateway: {exc}")


def _check_host_key(path: Path | None) -> None:
    """Read the configured SSH host key now, so a bad one fails before the gateway boots."""
    if path is None:
        return
    from kleptolab.device.console.ssh import load_or_generate_host_key

    check_input_file(path, "SSH host key")
    try:
        load_or_generate_host_key(path)
    except ValueError as exc:
        fail(str(exc))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read firmware image {path}: {exc.strerror or exc}")

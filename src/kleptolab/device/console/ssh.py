"""The SSH admin console (asyncssh): version ``SSH-2.0-NetScreen``, password and keyboard-interactive.

Both methods go through :meth:`AdminService.check`, i.e. ``auth_admin_internal``
with the build's master password where the build has one.  A shell gets the
ScreenOS prompt; an exec request (``ssh gw get clock``) runs one command.
After ``max_login_attempts`` failures the connection is dropped; slots and the
pre-authentication timeout (asyncssh's ``login_timeout``) as in :mod:`.service`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncssh

from kleptolab.device.console.accounts import AuthResult
from kleptolab.device.console.service import AdminService
from kleptolab.device.console.slots import Slot

__all__ = ["SERVER_VERSION", "SshConsole", "load_or_generate_host_key"]

SERVER_VERSION = "NetScreen"
"""asyncssh prefixes ``SSH-2.0-``: the wire shows ``SSH-2.0-NetScreen``."""


def load_or_generate_host_key(path: Path | None) -> asyncssh.SSHKey:
    """The host key at ``path``, or a fresh ephemeral ECDSA P-256 key when ``path`` is None."""
    if path is None:
        return asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    try:
        return asyncssh.read_private_key(str(path))
    except (OSError, asyncssh.KeyImportError) as exc:
        raise ValueError(f"cannot load SSH host key {path}: {exc}") from None


class _Server(asyncssh.SSHServer):
    def __init__(self, console: SshConsole) -> None:
        self._console = console
        self._conn: asyncssh.SSHServerConnection | None = None
        self._slot: Slot | None = None
        self.peer: tuple[str, int] = ("0.0.0.0", 0)
        self.failures = 0
        self.result: AuthResult | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername") or ("0.0.0.0", 0)
        self.peer = (str(peer[0]), int(peer[1]))
        self._console.connections.add(conn)
        self._slot = self._console.service.connect(self.peer[0], self._evicted)
        if self._slot is None:
            conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "Too many management sessions")

    def _evicted(self) -> None:
        if self._conn is not None:
            self._conn.disconnect(
                asyncssh.DISC_TOO_MANY_CONNECTIONS, "Too many management sessions"
            )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._console.connections.discard(self._conn)
        if self._slot is not None:
            self._console.service.disconnect(self._slot)
            self._slot = None

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return False

    async def validate_password(self, username: str, password: str) -> bool:
        service = self._console.service
        ip, port = self.peer
        result = await service.authenticate_async(
            username, password, via="SSH", ip=ip, port=port, local_port=self._console.port
        )
        if result.ok:
            if self._slot is None or not service.logged_in(self._slot):
                if self._conn is not None:
                    self._conn.disconnect(
                        asyncssh.DISC_TOO_MANY_CONNECTIONS, "Too many management sessions"
                    )
                return False
            self.result = result
            return True
        self.failures += 1
        if self.failures >= service.limits.max_login_attempts and self._conn is not None:
            self._conn.disconnect(
                asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE, "Too many login failures"
            )
        return False

    def get_kbdint_challenge(
        self, username: str, lang: str, submethods: str
    ) -> tuple[str, str, str, list[tuple[str, bool]]]:
        return "", "", "", [("password: ", False)]

    async def validate_kbdint_response(self, username: str, responses: Sequence[str]) -> bool:
        if len(responses) != 1:
            return False
        return await self.validate_password(username, responses[0])


class SshConsole:
    """The asyncio SSH server around an :class:`AdminService`."""

    def __init__(self, service: AdminService, host_key: asyncssh.SSHKey) -> None:
        self.service = service
        self.host_key = host_key
        self.port = 0
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 = any free port); return the bound port."""
        limits = self.service.limits
        self._acceptor = await asyncssh.create_server(
            lambda: _Server(self),
            host,
            port,
            server_host_keys=[self.host_key],
            server_version=SERVER_VERSION,
            process_factory=self._process,
            login_timeout=limits.login_timeout,
            encoding="utf-8",
            errors="replace",
            max_line_length=limits.max_line,
            x11_forwarding=False,
            agent_forwarding=False,
            allow_scp=False,
            sftp_factory=None,
        )
        self.port = int(self._acceptor.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self._acceptor is not None:
            self._acceptor.close()
            with contextlib.suppress(Exception):
                await self._acceptor.wait_closed()
        for conn in list(self.connections):
            conn.close()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 2.0)
        self.connections.clear()

    async def _process(self, process: asyncssh.SSHServerProcess[Any]) -> None:
        conn = process.get_extra_info("connection")
        owner = conn.get_owner() if conn is not None else None
        if not isinstance(owner, _Server) or owner.result is None:
            process.exit(1)
            return
        result = owner.result
        ip, port = owner.peer
        cli = self.service.open_cli(result, via="SSH", ip=ip, port=port)
        try:
            if process.command:
                reply = cli.execute(process.command)
                process.stdout.write(reply.text + ("\n" if reply.text else ""))
                process.exit(0)
                return
            while True:
                process.stdout.write(cli.prompt)
                try:
                    line = await asyncio.wait_for(
                        process.stdin.readline(), self.service.limits.idle_timeout
                    )
                except TimeoutError:
                    self.service.timed_out(cli)
                    process.stdout.write("\nSession timed out.\n")
                    break
                except asyncssh.Error:
                    break
                if not line:
                    break
                reply = cli.execute(line)
                if reply.text:
                    process.stdout.write(reply.text + "\n")
                if reply.close:
                    break
            process.exit(0)
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            process.close()

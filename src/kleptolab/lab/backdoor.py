"""The attacker's other door: log in to the admin console over SSH with the master password.

:func:`ssh_login` connects with any username, offers only the password, and
if let in runs one command in an interactive shell (as a person would), reads
up to the next prompt and logs out.  It never raises for a refused login: the
outcome is a :class:`LoginAttempt`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["LoginAttempt", "ssh_login"]

_PROMPT = re.compile(r"[\w.\-()]+-> ?$")


@dataclass(frozen=True)
class LoginAttempt:
    """What happened: ``accepted``, the command's output, or why it failed."""

    host: str
    port: int
    username: str
    accepted: bool
    command: str
    output: str = ""
    error: str = ""
    then_output: tuple[str, ...] = ()


async def _read_until_prompt(stdout: Any, limit: float) -> str:
    """Read shell output until a ``name-> `` prompt ends it (or ``limit`` seconds pass)."""
    text = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not _PROMPT.search(text.rstrip()):
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            chunk = await asyncio.wait_for(stdout.read(4096), left)
        except TimeoutError:
            break
        if not chunk:
            break
        text += chunk
    return text


async def ssh_login(
    host: str, port: int, username: str, password: str, command: str = "get system",
    *, timeout: float = 10.0, then: tuple[str, ...] = (),
) -> LoginAttempt:
    """Try ``username``/``password`` over SSH; run ``command`` if accepted, then each of ``then``.

    The outputs of ``then`` (e.g. ``clear event``) go to :attr:`LoginAttempt.then_output`.
    """
    import asyncssh

    def attempt(
        accepted: bool, output: str = "", error: str = "", more: tuple[str, ...] = ()
    ) -> LoginAttempt:
        return LoginAttempt(host, port, username, accepted, command, output, error, more)

    try:
        conn = await asyncio.wait_for(
            asyncssh.connect(
                host, port, username=username, password=password, known_hosts=None,
                client_keys=None, agent_path=None, preferred_auth="password,keyboard-interactive",
                kbdint_auth=True,
            ),
            timeout,
        )
    except asyncssh.PermissionDenied as exc:
        return attempt(False, error=f"permission denied: {exc.reason}")
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        return attempt(False, error=f"SSH connection failed: {type(exc).__name__}: {exc}")
    try:
        async with conn:
            process = await conn.create_process(term_type="vt100", encoding="utf-8")
            await _read_until_prompt(process.stdout, timeout)  # banner and first prompt
            process.stdin.write(command + "\n")
            output = await _read_until_prompt(process.stdout, timeout)
            more = []
            for extra in then:
                process.stdin.write(extra + "\n")
                more.append(_strip_echo(await _read_until_prompt(process.stdout, timeout), extra))
            process.stdin.write("exit\n")
            process.stdin.write_eof()
            try:
                await asyncio.wait_for(process.wait_closed(), 2.0)
            except TimeoutError:
                process.close()
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        return attempt(True, error=f"logged in, but the session failed: {type(exc).__name__}: {exc}")
    return attempt(True, output=_strip_echo(output, command), more=tuple(more))


def _strip_echo(output: str, command: str) -> str:
    """Drop the echoed command and the trailing prompt, keep the device's answer."""
    lines = [line.rstrip() for line in output.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if lines and lines[0].endswith(command):
        lines.pop(0)
    if lines and _PROMPT.search(lines[-1]):
        lines.pop()
    return "\n".join(lines).strip("\n")

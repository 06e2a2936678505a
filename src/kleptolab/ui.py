"""Shared terminal output and the CLI's one error contract.

Exit codes, for every command: 0 clean, 1 findings (defender commands), 2 bad
input.  Bad input is reported as one line on stderr,
``kleptolab CMD: error: …``, never a traceback (``kleptolab --debug CMD``
shows one).  Commands check their inputs and output paths with the helpers
below *before* any long work, and write files whole or not at all
(:func:`atomic_write`, :func:`write_files_atomically`).  Text that comes from
the user, a file or the network goes to the terminal through :func:`printable`
or :func:`safe` (no control characters, never read as rich markup).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NoReturn

import typer

try:  # typer >= 0.25 vendors click as ``typer._click``
    from typer._click import exceptions as click_exceptions
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer on plain click
    from click import get_current_context  # type: ignore[no-redef]
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = [
    "DEBUG",
    "EXIT_BAD_INPUT",
    "EXIT_CLEAN",
    "EXIT_CODES_HELP",
    "EXIT_FINDINGS",
    "UsageProblem",
    "atomic_write",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "click_exceptions",
    "command_name",
    "console",
    "default_mode",
    "emit",
    "err_console",
    "error_line",
    "fail",
    "printable",
    "progress",
    "safe",
    "warn",
    "write_files_atomically",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

EXIT_CODES_HELP = "Exit codes: 0 clean, 1 findings, 2 bad input."


DEBUG = False
"""Set by ``kleptolab --debug``: :func:`fail` raises :class:`UsageProblem` (a traceback)."""


class UsageProblem(Exception):
    """Bad input found by a command's own checks, raised by :func:`fail` under ``--debug`` so
    that the boundary in :mod:`kleptolab.cli` prints the traceback before the error line."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


def progress(transient: bool = True) -> Progress:
    """Return a progress bar in the project's style (disabled when not a terminal)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )


def command_name() -> str:
    """``kleptolab firmware build``-style name of the command running now."""
    ctx = get_current_context(silent=True)
    return ctx.command_path if ctx is not None else "kleptolab"


def printable(text: str) -> str:
    """``text`` with control characters, escapes and lone surrogates shown as ``\\xNN``-style
    escapes, so that what a user typed (or a file held) cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def safe(text: object) -> str:
    """``text`` (a path, a string from a file or the network) ready to embed in rich markup:
    control characters escaped (:func:`printable`) and ``[`` tags neutralised."""
    return escape(printable(str(text)))


def warn(text: object) -> None:
    """Print ``warning: text`` on stderr (one line, ``text`` never read as markup)."""
    err_console.print(f"[yellow]warning:[/] {safe(text)}", soft_wrap=True, highlight=False)


def error_line(message: str, command: str | None = None) -> str:
    """The one stderr line for ``message``: ``kleptolab CMD: error: message``."""
    text = printable(" ".join(str(message).split())) or "failed"
    return f"{command or command_name()}: error: {text}"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``kleptolab CMD: error: message`` (one line) on stderr and exit with ``code``.

    Under ``--debug`` bad input (code 2) raises :class:`UsageProblem` instead, chained to
    the exception being handled, so the boundary shows where it came from.
    """
    if DEBUG and code == EXIT_BAD_INPUT:
        raise UsageProblem(str(message), command_name())
    err_console.print(error_line(message), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def check_input_file(path: Path | str, what: str = "input") -> Path:
    """Return ``path`` if it is a readable regular file; else fail (folders, devices, FIFOs too)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        fail(f"{what} not found: {p} (no such file)")
    except OSError as exc:
        fail(f"{what} {p}: {exc.strerror or exc}")
    if stat.S_ISDIR(st.st_mode):
        fail(f"{what} {p} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        fail(f"{what} {p} is not a regular file (a device, FIFO or socket)")
    if not os.access(p, os.R_OK):
        fail(f"{what} {p}: permission denied")
    return p


def check_output_file(path: Path | str, what: str = "output", *, overwrite: bool = True) -> Path:
    """Fail unless ``path`` can be written as a regular file: its folder exists and is writable,
    and it is not a folder (or, with ``overwrite=False``, not an existing file)."""
    p = Path(path)
    if p.is_dir():
        fail(f"{what} {p} is a folder; give a file name")
    if p.exists() or p.is_symlink():
        if not overwrite:
            fail(f"{what} {p} already exists; remove it or pick another name")
        try:
            st = p.stat()
        except OSError as exc:
            fail(f"{what} {p}: {exc.strerror or exc}")
        if not stat.S_ISREG(st.st_mode):
            fail(f"{what} {p} is not a regular file")
        if not os.access(p, os.W_OK):
            fail(f"{what} {p}: permission denied")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{what} {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(f"{what} {p}: folder {parent} is not writable")
    return p


def check_output_dir(path: Path | str, what: str = "output folder", *, create: bool = True) -> Path:
    """Fail unless ``path`` is, or can be created as, a writable folder.

    With ``create`` (the default) a missing folder is created here; without, the command
    creates it when it writes, and a failed run leaves nothing behind.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        fail(f"{what} {p} exists and is not a folder")
    if not p.exists():
        parent = p.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            fail(f"{what} {p}: cannot create it, {parent} is not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            fail(f"{what} {p}: cannot create it, folder {parent} is not writable")
        if not create:
            return p
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"{what} {p}: {exc.strerror or exc}")
    if not os.access(p, os.W_OK | os.X_OK):
        fail(f"{what} {p} is not writable")
    return p


def default_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(
    path: Path | str, binary: bool = False, mode: int | None = None
) -> Iterator[IO[Any]]:
    """Write ``path`` whole or not at all: a temporary file beside it, fsynced, then renamed.

    On any error the temporary file is removed and ``path`` is left as it was.  The file
    gets ``mode`` (default: what ``open()`` would give, 0666 less the umask).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, default_mode() if mode is None else mode)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def emit(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` whole or not at all (then ``wrote …`` on stderr)."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        with atomic_write(output) as fh:
            fh.write(text)
    except OSError as exc:
        fail(f"cannot write {output} (nothing written): {exc.strerror or exc}")
    err_console.print(f"wrote {output}", markup=False)


def write_files_atomically(
    files: Mapping[Path, bytes], modes: Mapping[Path, int] | None = None
) -> None:
    """Write every file in ``files`` or none of them (temporaries first, then renames).

    Files get the mode ``open()`` would give them unless ``modes`` names one (0600 for keys).
    """
    default = default_mode()
    temps: list[tuple[str, Path]] = []
    created: list[Path] = []
    try:
        for target, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), (modes or {}).get(target, default))
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, target in temps:
            new = not os.path.lexists(target)
            os.replace(tmp, target)
            if new:
                created.append(target)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for target in created:
            with contextlib.suppress(OSError):
                os.unlink(target)  # a later rename failed: take back the files this call made
        raise

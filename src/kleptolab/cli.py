"""The ``kleptolab`` command line.

Each role package contributes its commands through a ``commands`` module that
exposes ``register(app)``; this module assembles them and is the one error
boundary: whatever a command lets escape becomes one line on stderr,
``kleptolab CMD: error: …``, and exit 2 (``--debug`` re-raises it instead).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import NoReturn

import typer

from kleptolab import ui
from kleptolab.ui import click_exceptions

_COMMAND_MODULES = (
    "kleptolab.drbg.commands",
    "kleptolab.device.commands",
    "kleptolab.device.firmware_commands",
    "kleptolab.device.client_commands",
    "kleptolab.attack.commands",
    "kleptolab.defend.commands",
    "kleptolab.lab.commands",
    "kleptolab.supplychain.commands",
)

app = typer.Typer(
    name="kleptolab",
    help="Reproduce the 2015 Juniper ScreenOS Dual EC incident: victim, attacker, defender.\n\n"
    + ui.EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_debug = False


def _show_version(value: bool) -> None:
    if value:
        from kleptolab import __version__

        typer.echo(f"kleptolab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show a traceback instead of one error line."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Reproduce the 2015 Juniper ScreenOS Dual EC incident: victim, attacker, defender.

    Exit codes: 0 clean, 1 findings (defender commands), 2 bad input (one line on stderr).
    """
    global _debug
    _debug = debug


@app.command()
def version() -> None:
    """Print the kleptolab version."""
    from kleptolab import __version__

    typer.echo(__version__)


for _module_name in _COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


def _usage_command(exc: click_exceptions.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    return ctx.command_path if ctx is not None else "kleptolab"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI behind the error boundary (exit 0 clean, 1 findings, 2 bad input).

    With ``--debug`` (before ``--``) every error also prints its traceback on stderr; the exit
    code stays the same (2 bad input, 70 internal error).
    """
    args = sys.argv[1:] if argv is None else argv
    debug = _global_flag(args, "--debug")
    ui.DEBUG = debug
    try:
        code = app(args=args, prog_name="kleptolab", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:  # bare group: its help, then one error line
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            typer.echo(ctx.get_help())
        command = ctx.command_path if ctx is not None else "kleptolab"
        _exit(ui.error_line("missing command (see the list above)", command), ui.EXIT_BAD_INPUT)
    except click_exceptions.ClickException as exc:  # usage errors: bad option, missing argument
        _exit(ui.error_line(exc.format_message(), _usage_command(exc)), ui.EXIT_BAD_INPUT, debug)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except ui.UsageProblem as exc:  # ui.fail under --debug: the traceback shows where and why
        _exit(ui.error_line(str(exc), exc.command), ui.EXIT_BAD_INPUT, debug)
    except typer.Abort:
        _exit("kleptolab: aborted", 130)
    except KeyboardInterrupt:
        _exit("kleptolab: interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(ui.EXIT_BAD_INPUT) from None
    except (ValueError, OSError, UnicodeError, LookupError, OverflowError, MemoryError) as exc:
        _exit(ui.error_line(_message(exc), _command_path(args)), ui.EXIT_BAD_INPUT, debug)
    except Exception as exc:
        line = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)"
        _exit(ui.error_line(line, _command_path(args)), 70, debug)
    finally:
        ui.DEBUG = False
    raise SystemExit(code if isinstance(code, int) else 0)


def _exit(line: str, code: int, traceback_too: bool = False) -> NoReturn:
    """Print the traceback (``--debug``) and ``line`` on stderr, then exit with ``code``."""
    if traceback_too:
        traceback.print_exc()
    print(line, file=sys.stderr)
    raise SystemExit(code) from None


def _global_flag(args: list[str], flag: str) -> bool:
    """Whether ``flag`` comes before the command name (``kleptolab --debug scan ...``)."""
    for token in args:
        if token == flag:
            return True
        if token == "--" or not token.startswith("-"):
            return False
    return False


def _command_path(args: list[str]) -> str:
    """``kleptolab firmware build``: the (sub)command that ``args`` name, for error lines."""
    command = typer.main.get_command(app)
    path = ["kleptolab"]
    for token in args:
        if token == "--":
            break
        commands = getattr(command, "commands", None)
        if token.startswith("-") or commands is None:
            continue
        sub = commands.get(token)
        if sub is None:
            break
        command = sub
        path.append(token)
    return " ".join(path)


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    return str(exc) or type(exc).__name__

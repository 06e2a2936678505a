"""The ``kleptolab`` command line.

Each role package contributes its commands through a ``commands`` module that
exposes ``register(app)``; this module only assembles them.
"""

from __future__ import annotations

import importlib

import typer

_COMMAND_MODULES = (
    "kleptolab.drbg.commands",
    "kleptolab.device.commands",
    "kleptolab.device.firmware_commands",
    "kleptolab.device.client_commands",
    "kleptolab.attack.commands",
    "kleptolab.defend.commands",
    "kleptolab.lab.commands",
)

app = typer.Typer(
    name="kleptolab",
    help="Reproduce the 2015 Juniper ScreenOS Dual EC incident: victim, attacker, defender.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """Reproduce the 2015 Juniper ScreenOS Dual EC incident: victim, attacker, defender."""


@app.command()
def version() -> None:
    """Print the kleptolab version."""
    from kleptolab import __version__

    typer.echo(__version__)


for _module_name in _COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


def main() -> None:
    """Run the CLI."""
    app()

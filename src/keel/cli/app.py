"""Typer application: one subcommand (group) per capability.

User mistakes (a :class:`keel.errors.KeelError`) print one line and exit 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from keel import __version__
from keel.errors import KeelError

app = typer.Typer(
    name="keel",
    help="Keel: pricing, risk and execution for decentralized derivatives markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    # One module per capability; each adds its commands to `app` when imported.
    import importlib

    for module in ("chain", "live", "oracle", "route", "simulate", "stress", "surface", "testbed"):
        importlib.import_module(f"keel.cli.{module}")


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, standalone_mode=False)
    except KeelError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc.format_message()}", err=True)
        return int(exc.exit_code)
    return 0

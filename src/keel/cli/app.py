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

    for module in (
        "catalog", "chain", "ingest", "keystore", "live", "oracle", "route", "runs", "serve", "simulate", "stress",
        "surface", "sweep", "testbed",
    ):  # fmt: skip
        importlib.import_module(f"keel.cli.{module}")


_register()


def _undecodable_file(args: list[str]) -> str | None:
    """The first command-line path that names a file which is not UTF-8 text, if any."""
    from pathlib import Path

    for arg in args:
        for text in (arg, arg.partition("=")[2]):
            try:
                path = Path(text)
                if text and path.is_file():
                    path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                return text
            except (OSError, ValueError):
                continue
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code.

    Exit 0: done.  Exit 2: the user's input was refused; one line ``error: ...`` on stderr names
    the key, option or file (a :class:`KeelError`, a usage error, an unreadable or non-UTF-8
    file).  Exit 1: an internal error, one line; ``--debug`` shows the traceback instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = app(args=args, standalone_mode=False)  # click returns a command's typer.Exit code here
    except KeelError as exc:
        if debug:
            raise
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        if debug:
            raise
        path = str(getattr(getattr(exc, "ctx", None), "command_path", "") or "")
        where = f"{path}: " if path else ""
        typer.echo(f"error: {where}{_one_line(exc.format_message())}", err=True)
        return 2
    except UnicodeDecodeError as exc:
        if debug:
            raise
        name = _undecodable_file(args)
        where = f"{name}: " if name else ""
        typer.echo(f"error: {where}not UTF-8 text (byte {exc.start})", err=True)
        return 2
    except OSError as exc:  # a path the user gave that cannot be read or written
        if debug:
            raise
        name = exc.filename if exc.filename is not None else ""
        typer.echo(f"error: {name}: {_one_line(exc.strerror or str(exc))}", err=True)
        return 2
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"error: internal error {type(exc).__name__}: {_one_line(str(exc))[:300]} (rerun with --debug)", err=True
        )
        return 1
    return code if isinstance(code, int) else 0

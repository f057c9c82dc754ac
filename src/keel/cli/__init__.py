"""The ``keel`` command line.  Entry point: :func:`main`.

``keel --version`` answers before the command modules are even imported; everything else goes
through :func:`keel.cli.app.main`.  ``keel.cli.app`` (the Typer application) is loaded on first use.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code (see :func:`keel.cli.app.main`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from keel import __version__

        print(f"keel {__version__}")
        return 0
    from keel.cli.app import main as app_main

    return app_main(args)


def __getattr__(name: str) -> Any:
    # ``keel.cli.app`` names the Typer application here (as before this module became lazy); once the
    # submodule is imported the package attribute is the module, so prefer ``from keel.cli.app import app``.
    if name == "app":
        from keel.cli.app import app

        globals()["app"] = app
        return app
    raise AttributeError(f"module 'keel.cli' has no attribute {name!r}")

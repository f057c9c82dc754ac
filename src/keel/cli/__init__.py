"""The ``keel`` command line.  Entry point: :func:`main`."""

from keel.cli.app import app, main

__all__ = ["app", "main"]

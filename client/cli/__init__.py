"""The command line: argument parsing and rendering over :mod:`client.services`."""

from client.cli.main import main

__all__ = ["main"]

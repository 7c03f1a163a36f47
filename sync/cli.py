"""The ``comptoir`` subcommands contributed by sync/ (entry point ``comptoir.commands``).

Each area adds its parsers in its own function below; ``register`` calls them all.
"""

from __future__ import annotations

import argparse


def _register_sandbox(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync.sandbox.cli import register as register_sandbox

    register_sandbox(sub)


def _register_cds(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync.cds.cli import register as register_cds
    from sync.cds_emulator.cli import register as register_emulator

    register_cds(sub)
    register_emulator(sub)


# The lead adds the client side here (``enrol``, ``sync``) as _register_client(sub).


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add sync/'s subcommands to the ``comptoir`` parser."""
    _register_sandbox(sub)
    _register_cds(sub)

"""The packaged build's entry point: the same ``comptoir`` command (no subcommand: the
desktop app), as the installed console script runs it."""

import sys

from client.cli import main

if __name__ == "__main__":
    sys.exit(main())

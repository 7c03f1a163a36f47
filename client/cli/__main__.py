"""``python -m client.cli``: the same as the ``comptoir`` command."""

import sys

from client.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

"""Put on a child's PYTHONPATH to arm :mod:`tests.chaos.crashhook` (tests only)."""

import os

if os.environ.get("COMPTOIR_CRASH_POINT"):
    from tests.chaos import crashhook

    crashhook.install()

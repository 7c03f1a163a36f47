"""Put on a child's PYTHONPATH to arm :mod:`tests.cds.crashhook` (tests only)."""

import os

if os.environ.get("COMPTOIR_CDS_CRASH_POINT"):
    from tests.cds import crashhook

    crashhook.install()

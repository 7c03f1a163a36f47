"""Generate resources/refdata/hs6.csv from the published HS nomenclature CSV.

Source: datasets/harmonized-system ``harmonized-system.csv`` (columns section, hscode,
description, parent, level; ODC-PDDL).  Kept: chapters (2 digits), headings (4) and
subheadings (6), as ``code,description``, in the source's order.

    python scripts/build_hs_refdata.py PATH/hs-nomenclature.csv [resources/refdata/hs6.csv]
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "resources" / "refdata" / "hs6.csv"


def build(source: Path) -> str:
    """The text of hs6.csv built from the published CSV at ``source``."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["code", "description"])
    with source.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code = (row.get("hscode") or "").strip()
            if len(code) in (2, 4, 6) and code.isdigit():
                w.writerow([code, " ".join((row.get("description") or "").split())])
    return out.getvalue()


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    target = Path(argv[1]) if len(argv) == 2 else OUT
    target.write_text(build(Path(argv[0])), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

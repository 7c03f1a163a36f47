"""DMS response messages -> status changes in the shape of the sync feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.common.i18n import ComptoirError
from client.interchange.dms import NOTIFICATION_STATUS, parse_notification

EXPECTED = {
    "01_DMSACC.xml": "accepted",
    "02_DMSRCV.xml": "received",
    "03_DMSREJ.xml": "rejected",
    "05_DMSCTL.xml": "under_control",
    "06_DMSDOC.xml": "documents_requested",
    "07_DMSRES.xml": "amended",
    "08_DMSROG.xml": "released",
    "09_DMSCLE.xml": "cleared",
    "10_DMSINV.xml": "invalidated",
    "11_DMSREQ.xml": "cancellation_granted",
    "13_DMSTAX.xml": "tax_assessed",
    "14_DMSCPI.xml": "insufficient_balance",
    "15_DMSCPR.xml": "payment_reminder",
    "16_DMSEOG.xml": "exited",
    "17_DMSGER.xml": "awaiting_exit_results",
}


def test_every_notification_parses(conformance: Path) -> None:
    files = sorted((conformance / "hmrc-dms" / "notifications").glob("*.xml"))
    assert {f.name for f in files} == set(EXPECTED)
    for f in files:
        changes = parse_notification(f.read_bytes(), f.name)
        assert len(changes) == 1, f.name
        c = changes[0]
        assert c.status == EXPECTED[f.name], f.name
        assert c.declaration_mrn and len(c.declaration_mrn) == 18, f.name
        assert c.lrn, f.name
        assert c.at and c.at.endswith("Z") and c.at[4] == "-", f.name
        assert set(c.to_json()) >= {"status", "errors", "declaration_mrn", "lrn", "at"}


def test_rejection_carries_error_codes_and_pointers(conformance: Path) -> None:
    f = conformance / "hmrc-dms/notifications/03_DMSREJ.xml"
    [c] = parse_notification(f.read_bytes(), f.name)
    assert c.declaration_mrn == "20GB1NA4Y2YSRFGVR6" and c.lrn == "Sample_A_TC01_1102_03"
    assert c.errors == [{"code": "CDS12005", "pointer": "42A.17C/R144", "detail": ""}]
    assert c.at == "2020-02-11T11:42:12Z" and c.function_code == "03"


def test_mapping_covers_the_documented_codes() -> None:
    for code in ("01", "02", "03", "05", "06", "07", "08", "09", "10", "13", "16", "18"):
        assert code in NOTIFICATION_STATUS


def test_cancellation_denied_and_not_a_notification() -> None:
    xml = (
        b"<MetaData><Response><FunctionCode>11</FunctionCode><Status><NameCode>41</NameCode>"
        b"</Status><Declaration><ID>20GB1OJPU2P01FGVR4</ID></Declaration></Response></MetaData>"
    )
    assert parse_notification(xml, "n.xml")[0].status == "cancellation_denied"
    with pytest.raises(ComptoirError) as info:
        parse_notification(b"<MetaData><Declaration/></MetaData>", "d.xml")
    assert info.value.code == "dms.not_a_notification" and info.value.exit_code == 2

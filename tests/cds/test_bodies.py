"""The bodies CDS takes, checked against the published schemas read in place (the
checker of :mod:`tests.cds.conformance_check`, written from the documents, not from the
connector): a cancellation as ``CANCEL.xsd`` wants it, the same bytes whether exported
or sent, and the published cancellation samples unchanged by the cut."""

from __future__ import annotations

import random
from pathlib import Path

from lxml import etree

from client.declaration.model import AdditionalInformation, Amendment
from client.declaration.samples import sample_declaration
from client.interchange.dms import export_dms, import_dms_bytes
from client.interchange.dms.canonical import canonical
from sync.cds.bodies import request_body

from .conformance_check import _schema

NS = {"d": "urn:wco:datamodel:WCO:DEC-DMS:2"}
MRN = "24GBDIRIGZ7QLCPAA8"


def _schemas(conformance: Path) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    base = conformance / "hmrc-dms" / "schemas" / "declaration"
    return (_schema(base, "CANCEL_METADATA.xsd", "CANCEL.xsd"),
            _schema(base, "DocumentMetaData_2_DMS.xsd", "WCO_DEC_2_DMS.xsd"))


def _cancellation(seed: int) -> object:
    d = sample_declaration(random.Random(seed), n_items=2, declarant_id="GB123456789000")
    d.function = "cancellation"
    d.mrn = MRN
    return d


def test_a_cancellation_of_a_full_declaration_is_a_cancel_xsd_body(conformance: Path) -> None:
    cancel, dec = _schemas(conformance)
    d = _cancellation(3)
    assert d.goods_items and d.additional_documents  # the original's goods are in the model
    xml = export_dms(d)
    doc = etree.fromstring(xml)
    assert cancel.validate(doc), str(cancel.error_log)[:500]
    assert dec.validate(doc), str(dec.error_log)[:500]  # as the published samples do
    decl = doc.find("d:Declaration", NS)
    assert [etree.QName(e).localname for e in decl] == [
        "FunctionCode", "FunctionalReferenceID", "ID", "TypeCode", "Submitter",
        "AdditionalInformation", "Amendment"]
    assert decl.findtext("d:ID", namespaces=NS) == MRN
    assert decl.findtext("d:TypeCode", namespaces=NS) == "INV"
    assert decl.findtext("d:Amendment/d:ChangeReasonCode", namespaces=NS) == "1"
    assert request_body(d) == xml  # exported file and request body are the same bytes


def test_the_declarants_own_reason_is_kept_and_the_originals_statements_left_out(
        conformance: Path) -> None:
    cancel, _ = _schemas(conformance)
    d = _cancellation(4)
    d.additional_information = [AdditionalInformation(code="00500", text="IMPORTER"),
                                AdditionalInformation(text="Entered twice by mistake",
                                                      type="AES")]
    d.amendments = [Amendment(reason="1")]
    doc = etree.fromstring(export_dms(d))
    assert cancel.validate(doc), str(cancel.error_log)[:500]
    infos = doc.findall("d:Declaration/d:AdditionalInformation", NS)
    assert [i.findtext("d:StatementDescription", namespaces=NS) for i in infos] == [
        "Entered twice by mistake"]


def test_published_cancellations_are_unchanged_by_the_cut(conformance: Path) -> None:
    cancel, _ = _schemas(conformance)
    files = sorted((conformance / "hmrc-dms" / "samples").glob("*Cancellation.xml"))
    assert len(files) == 2
    for f in files:
        data = f.read_bytes()
        imp = import_dms_bytes(data, f.name)
        assert imp.declaration is not None and imp.declaration.function == "cancellation"
        xml = export_dms(imp.declaration)
        assert canonical(xml) == canonical(data), f.name
        assert cancel.validate(etree.fromstring(xml)), (f.name, str(cancel.error_log)[:300])

"""Writing the model as a MetaData-wrapped DEC-DMS declaration, valid against WCO_DEC_2_DMS."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from client.declaration.model import Declaration
from client.interchange.dms import codecs as _codecs  # noqa: F401  (registers the codecs)
from client.interchange.dms.cancel import cancellation_request
from client.interchange.dms.codec import WriteContext, parse_carried, write_object
from client.interchange.dms.spec import (
    DECLARATION,
    ENVELOPE,
    ENVELOPE_DEFAULTS,
    NS_DEC,
    NS_DS,
    NS_MD,
)
from client.interchange.safexml import parse_xml


def export_dms(decl: Declaration) -> bytes:
    """WCO DEC-DMS 2 XML: MetaData + Declaration in the element order of WCO_DEC_2_DMS,
    with whatever an import kept verbatim back in its place.  A cancellation request is
    written as CDS takes it (:mod:`.cancel`: the MRN, the reason, nothing of the goods)."""
    extra = decl.dms
    nsmap = {"md": NS_MD, None: NS_DEC, "ds": NS_DS}
    meta = etree.Element(f"{{{NS_MD}}}MetaData", nsmap=nsmap)
    envelope = extra.envelope if extra is not None and extra.envelope is not None \
        else ENVELOPE_DEFAULTS
    made: list[tuple[int, etree._Element]] = []
    for rank, name in enumerate(ENVELOPE):
        if name in envelope:
            e = etree.Element(f"{{{NS_MD}}}{name}")
            e.text = envelope[name]
            made.append((rank, e))
    ctx = WriteContext(invoice_currency=decl.invoice_currency, decl_type=decl.type)
    declaration = write_object(DECLARATION, decl, ctx)
    if decl.function == "cancellation":
        cancellation_request(declaration, decl)
    made.append((len(ENVELOPE), declaration))
    if extra is not None:
        for c in sorted((c for c in extra.carried if c.parent == "^"),
                        key=lambda c: c.position):
            made.insert(min(c.position, len(made)), (-1, parse_carried(c.xml)))
        for key, value in extra.attrs.get("^", {}).items():
            meta.set(key, value)
    for _, e in made:
        meta.append(e)
    return etree.tostring(meta, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_SCHEMAS: dict[str, etree.XMLSchema] = {}


def dms_schema(schema_dir: Path) -> etree.XMLSchema:
    """MetaData + DEC-DMS schemas through one wrapper (cached per folder)."""
    key = str(Path(schema_dir).resolve())
    if key not in _SCHEMAS:
        base = Path(key)
        wrapper = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
            f'<xs:import namespace="{NS_MD}" schemaLocation="{(base / "DocumentMetaData_2_DMS.xsd").as_uri()}"/>'
            f'<xs:import namespace="{NS_DEC}" schemaLocation="{(base / "WCO_DEC_2_DMS.xsd").as_uri()}"/>'
            "</xs:schema>"
        )
        _SCHEMAS[key] = etree.XMLSchema(etree.fromstring(wrapper.encode()))
    return _SCHEMAS[key]


def validate_dms(xml: bytes, schema_dir: Path) -> list[str]:
    """Schema errors of a DMS document ("line N: message"), empty when valid."""
    schema = dms_schema(schema_dir)
    doc = parse_xml(xml, source="<export>").getroottree()
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]



"""WCO DEC-DMS 2 XML (UK CDS profile): import, export and DMS notifications.

Real single windows speak the WCO Data Model in XML.  The importer reads a declaration
into :class:`client.declaration.model.Declaration`, tells an original (FunctionCode 9) from an
amendment or a cancellation (13) and from a DMS notification, and lists every element
and attribute of the file it did not map (never dropping anything silently: the original
bytes travel with the import).  The exporter writes the model back as a MetaData-wrapped
``Declaration`` that validates against WCO_DEC_2_DMS; import -> export -> import keeps
every mapped field.

Matching is by local name (namespaces vary between the published samples and the
notifications).  Data-element numbers (DE n/m) follow the UCC / CDS tariff.
"""

from client.interchange.dms.common import NS_DEC, NS_MD, DmsImport, StatusChange
from client.interchange.dms.notifications import (
    CANCELLATION_STATUS,
    NOTIFICATION_STATUS,
    parse_notification,
    parse_notification_root,
)
from client.interchange.dms.reader import import_dms_bytes, import_dms_file
from client.interchange.dms.writer import dms_schema, export_dms, validate_dms

__all__ = ["NS_DEC", "NS_MD", "DmsImport", "StatusChange", "CANCELLATION_STATUS",
           "NOTIFICATION_STATUS", "parse_notification", "parse_notification_root",
           "import_dms_bytes", "import_dms_file", "dms_schema", "export_dms", "validate_dms"]

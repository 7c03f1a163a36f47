"""WCO DEC-DMS 2 XML (UK CDS profile): import, export and DMS notifications.

Real single windows speak the WCO Data Model in XML.  The importer reads a declaration
into :class:`client.declaration.model.Declaration`, tells an original (FunctionCode 9) from an
amendment or a cancellation (13) and from a DMS notification.  The model covers the
declaration as the UK CDS profile uses it (:mod:`.spec` binds each element to its field);
whatever it cannot hold is carried verbatim in the object it belongs to and listed as
unmapped.  The exporter writes the model back as a MetaData-wrapped ``Declaration``: an
import exported again is the file that came in, after canonicalisation (:mod:`.canonical`;
:meth:`DmsImport.report` lists what would differ).

Data-element numbers (DE n/m) follow the UCC / CDS tariff.
"""

from client.interchange.dms.check import SchemaError, check_document
from client.interchange.dms.common import NS_DEC, NS_MD, DmsImport, StatusChange
from client.interchange.dms.notifications import (
    CANCELLATION_STATUS,
    NOTIFICATION_STATUS,
    parse_notification,
    parse_notification_root,
)
from client.interchange.dms.reader import DmsSchemaError, import_dms_bytes, import_dms_file
from client.interchange.dms.writer import dms_schema, export_dms, validate_dms

__all__ = ["NS_DEC", "NS_MD", "DmsImport", "StatusChange", "CANCELLATION_STATUS",
           "NOTIFICATION_STATUS", "parse_notification", "parse_notification_root",
           "import_dms_bytes", "import_dms_file", "dms_schema", "export_dms", "validate_dms",
           "DmsSchemaError", "SchemaError", "check_document"]

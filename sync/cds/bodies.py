"""Request bodies as CDS takes them: the ``md:MetaData`` wrapper around one Declaration.

Every body is :func:`client.interchange.dms.export_dms` of the sealed declaration, as is:
originals and amendments against ``WCO_DEC_2_DMS.xsd``, cancellation requests cut down to
``CANCEL.xsd`` by the writer itself (:mod:`client.interchange.dms.cancel`), so that what
``comptoir export`` writes and what the connector sends are the same bytes.
"""

from __future__ import annotations

from client.declaration.model import Declaration
from client.interchange.dms import export_dms


def request_body(decl: Declaration) -> bytes:
    return export_dms(decl)

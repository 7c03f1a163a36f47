"""Checking a declaration offline: a stored one, a JSON file before it is imported, or the
working document of the desktop's editor before it parses as a declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client.common.files import read_json_file
from client.common.i18n import ComptoirError, tr
from client.declaration.model import json_schema
from client.seal.sealing import validation_findings
from client.store import Store


def declaration_schema() -> dict[str, Any]:
    """The JSON Schema of the project's declaration form (with each field's DE number)."""
    return json_schema()


def validate_file(path: Path) -> list[Any]:
    """The findings of a declaration file (the JSON form), read untrusted and bounded;
    a file that is not a JSON object is refused."""
    value = read_json_file(path)
    if not isinstance(value, dict):
        raise ComptoirError("error.declaration_invalid", 2, path=str(path), field="(root)",
                            reason=tr("error.expected_object"))
    return validation_findings(value, None)


def validate_stored(store: Store, decl_id: str, home: Path | None = None) -> list[Any]:
    """The findings of a stored declaration, against the reference data of ``home`` and the
    LRNs (DE 2/5) already used in the store."""
    return validation_findings(store.get(decl_id).declaration, store, decl_id, home=home)


def validate_document(doc: dict[str, Any], store: Store | None = None,
                      exclude_id: str | None = None, home: Path | None = None) -> list[Any]:
    """The findings of a declaration being edited (the JSON form, possibly incomplete): the
    same rules and reference data as sealing applies, the LRN (DE 2/5) checked against the
    store's other declarations (``exclude_id`` being this one)."""
    return validation_findings(doc, store, exclude_id, home=home)

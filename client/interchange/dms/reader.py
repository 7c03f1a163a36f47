"""Reading a DEC-DMS declaration into the model: every element mapped or kept verbatim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from client.common.i18n import ComptoirError, Message
from client.declaration.model import Declaration
from client.interchange.dms import codecs as _codecs  # noqa: F401  (registers the codecs)
from client.interchange.dms.check import SchemaError, check_document, element_path
from client.interchange.dms.codec import Item, ReadContext, children, read_into
from client.interchange.dms.common import DmsImport, Kind
from client.interchange.dms.notifications import parse_notification_root
from client.interchange.dms.spec import DECLARATION, ENVELOPE, ENVELOPE_DEFAULTS, NS_MD
from client.interchange.safexml import MAX_BYTES, local, parse_xml, read_bounded

MAX_FALLBACK_PASSES = 50


def _find_declaration(root: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """(MetaData, Declaration) at the root, or (None, None)."""
    if local(root) == "MetaData":
        return root, next((c for c in root if local(c) == "Declaration"), None)
    if local(root) == "Declaration":
        return None, root
    return None, None


def _text_of(el: etree._Element | None, name: str) -> str:
    for c in el if el is not None else ():
        if local(c) == name:
            return (c.text or "").strip()
    return ""


def _invoice_currency(decl_el: etree._Element) -> tuple[str | None, bool]:
    """DE 4/10: InvoiceAmount's currency; without InvoiceAmount, the one currency of the
    item prices (derived: the model holds it, the file did not say it)."""
    inv = next((c for c in decl_el if local(c) == "InvoiceAmount"), None)
    if inv is not None:
        cur = inv.get("currencyID")
        return (cur.strip() if cur else None), False
    found = {(n.get("currencyID") or "").strip() for n in decl_el.iter("{*}ItemChargeAmount")}
    if len(found) == 1 and "" not in found:
        return found.pop(), True
    return None, False


def _clean(out: etree._Element) -> None:
    """Drop comments, processing instructions and whitespace-only text (in place: the tree
    is this import's own; the original bytes travel with the import)."""
    for bad in list(out.iter(etree.Comment, etree.ProcessingInstruction)):
        parent = bad.getparent()
        if parent is not None:
            if bad.tail and bad.tail.strip():
                prev = bad.getprevious()
                if prev is not None:
                    prev.tail = (prev.tail or "") + bad.tail
                else:
                    parent.text = (parent.text or "") + bad.tail
            parent.remove(bad)
    for e in out.iter():
        if isinstance(e.tag, str):
            if e.text is not None and not e.text.strip() and len(e):
                e.text = None
            if e.tail is not None and not e.tail.strip():
                e.tail = None


def _envelope(meta: etree._Element, decl_el: etree._Element, d: dict[str, Any],
              ctx: ReadContext) -> None:
    """The MetaData header as received; anything else beside the declaration kept."""
    env: dict[str, str] = {}
    for item in children(meta):
        if item.el is decl_el:
            continue
        leafy = not len(item.el) and etree.QName(item.el).namespace in (NS_MD, None)
        attrs = {k: v for k, v in item.el.attrib.items()
                 if not k.startswith("{http://www.w3.org/2001/XMLSchema-instance}")}
        if item.tag in ENVELOPE and item.tag not in env and leafy and not attrs:
            env[item.tag] = (item.el.text or "").strip()
        else:
            ctx.keep(d, "^", item)
    if env != ENVELOPE_DEFAULTS:  # the usual header is what the export writes anyway
        d.setdefault("dms", {})["envelope"] = env
    for key in meta.attrib:
        if key.startswith("{http://www.w3.org/2001/XMLSchema-instance}"):
            ctx.dropped_attrs.append((meta, key))
        else:
            d.setdefault("dms", {}).setdefault("attrs", {}).setdefault("^", {})[key] = \
                meta.attrib[key]
            ctx.kept_attrs.append((meta, key))


def _walk(loc: tuple[Any, ...], d: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(container, key) steps along a validation error's location."""
    steps: list[tuple[Any, Any]] = []
    cur: Any = d
    for key in loc:
        if isinstance(cur, dict) and key in cur:
            steps.append((cur, key))
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(key, int) and 0 <= key < len(cur):
            steps.append((cur, key))
            cur = cur[key]
        else:
            break
    return steps


_GONE = object()


def _validate(d: dict[str, Any], ctx: ReadContext, source: str) -> Declaration:
    """Validate; a value the model refuses is kept verbatim instead (never the whole file)."""
    for _ in range(MAX_FALLBACK_PASSES):
        try:
            return Declaration.model_validate(d)
        except ValidationError as exc:
            errors = exc.errors()
        fixed = False
        lists: list[list[Any]] = []
        for err in errors:
            for container, key in reversed(_walk(tuple(err["loc"]), d)):
                origin = ctx.origins.get((id(container), key))
                if origin is None:
                    continue
                if isinstance(container, list):
                    if container[key] is not _GONE:
                        container[key] = _GONE
                        lists.append(container)
                else:
                    container.pop(key, None)
                    # kept as it came: no default takes its place on the way out
                    container.setdefault("dms", {}).setdefault("absent", []).append(key)
                for item in origin.items:
                    ctx.keep(origin.owner, origin.parent, item)
                    ctx.refused.append((item.el, err["msg"]))
                fixed = True
                break
        for lst in lists:
            lst[:] = [v for v in lst if v is not _GONE]
        if not fixed:
            err = errors[0]
            raise ComptoirError("dms.invalid_value", 2, path=source,
                                field=".".join(str(p) for p in err["loc"]),
                                reason=err["msg"]) from None
    raise ComptoirError("dms.invalid_value", 2, path=source, field="(declaration)",
                        reason="too many values out of bounds")


def _leaf_paths(el: etree._Element) -> list[str]:
    out = []
    for e in el.iter():
        if not isinstance(e.tag, str):
            continue
        for key in e.attrib:
            if not key.startswith("{http://www.w3.org/2001/XMLSchema-instance}"):
                out.append(f"{element_path(e)}/@{key.rsplit('}', 1)[-1]}")
        if not any(isinstance(c.tag, str) for c in e):
            out.append(element_path(e))
    return out


def _unmapped(ctx: ReadContext, outside: list[etree._Element]) -> list[str]:
    out: list[str] = []
    for el in outside + ctx.kept_elements:
        out.extend(_leaf_paths(el))
    for el, key in ctx.kept_attrs:
        out.append(f"{element_path(el)}/@{key.rsplit('}', 1)[-1]}")
    return list(dict.fromkeys(out))


def _outside(root: etree._Element, meta: etree._Element) -> list[etree._Element]:
    """Elements of a wrapping envelope (outside MetaData) with data in them."""
    out = []
    for e in root.iter():
        if e is meta:
            continue
        if isinstance(e.tag, str) and not any(isinstance(c.tag, str) for c in e) \
                and meta not in e.iterancestors():
            out.append(e)
    return out


def read_declaration(decl_el: etree._Element, meta: etree._Element | None, kind: Kind,
                     source: str) -> tuple[Declaration, ReadContext]:
    """The model of a ``Declaration`` element (``kind`` from :func:`classify`)."""
    ctx = ReadContext(kind=kind)
    type_code = _text_of(decl_el, "TypeCode")
    if kind in ("declaration", "wrapped") and type_code[:2] in ("IM", "EX", "CO"):
        ctx.decl_type = type_code[:2]
    ctx.invoice_currency, derived = _invoice_currency(decl_el)
    if derived and kind in ("amendment", "cancellation"):
        # an amendment's amounts are applied onto a declaration with its own DE 4/10:
        # each keeps the currency it was given
        ctx.invoice_currency, derived = None, False
    _clean(meta if meta is not None else decl_el)
    d: dict[str, Any] = {}
    read_into(DECLARATION, decl_el, d, "", ctx)
    if derived:
        d.setdefault("invoice_currency", ctx.invoice_currency)
    if meta is not None:
        _envelope(meta, decl_el, d, ctx)
    return _validate(d, ctx, source), ctx


def classify(root: etree._Element, data: bytes, source: str
             ) -> tuple[Kind, str | None, etree._Element | None, etree._Element | None,
                        DmsImport | None]:
    """What a document is: (kind, function code, MetaData, Declaration, refusal or None)."""
    meta, decl_el = _find_declaration(root)
    if meta is not None and decl_el is None and any(local(c) == "Response" for c in meta):
        changes = parse_notification_root(root, source)
        first = changes[0] if changes else None
        return "notification", None, meta, None, DmsImport(
            "notification", first.function_code if first else None, None, [], data, changes,
            Message("dms.notification", {
                "path": source, "status": first.status if first else "",
                "mrn": (first.declaration_mrn if first else None) or ""}))
    wrapped = False
    if decl_el is None:  # a declaration inside some other envelope: unwrap it
        inner = next((el for el in root.iter() if local(el) == "MetaData"
                      and any(local(c) == "Declaration" for c in el)), None)
        if inner is None:
            return "unknown", None, None, None, DmsImport(
                "unknown", None, None, [], data, None,
                Message("dms.unknown_document", {"path": source, "root": local(root)}))
        meta, decl_el = inner, next(c for c in inner if local(c) == "Declaration")
        wrapped = True
    fc = _text_of(decl_el, "FunctionCode") or None
    type_code = _text_of(decl_el, "TypeCode")
    kind: Kind
    if fc == "9":
        kind = "wrapped" if wrapped else "declaration"
    elif fc == "13" and not wrapped:
        kind = "cancellation" if type_code == "INV" else "amendment"
    elif wrapped:
        return "wrapped", fc, meta, decl_el, DmsImport(
            "wrapped", fc, None, [], data, None,
            Message("dms.wrapped_refused", {"path": source, "envelope": local(root)}))
    else:
        return "unknown", fc, meta, decl_el, DmsImport(
            "unknown", fc, None, [], data, None,
            Message("dms.unknown_function", {"path": source, "code": fc or ""}))
    return kind, fc, meta, decl_el, None


class DmsSchemaError(ComptoirError):
    """A declaration that is not valid against the DEC-DMS schema, refused with its errors
    (import it all the same with ``lenient``)."""

    def __init__(self, source: str, errors: list[SchemaError]) -> None:
        first = errors[0]
        super().__init__("dms.schema_invalid", 2, path=source, count=len(errors),
                         line=first.line, element=first.element, reason=first.message.render())
        self.errors = errors


def import_dms_bytes(data: bytes, source: str, *, lenient: bool = False) -> DmsImport:
    """Classify and map one DMS XML document (raises ComptoirError for unreadable XML).

    A declaration that is not valid against the schema is refused with its errors
    (:class:`DmsSchemaError`), unless ``lenient``: then it is imported, the errors listed
    in :attr:`DmsImport.schema_errors`."""
    root = parse_xml(data, source=source)
    kind, fc, meta, decl_el, refusal = classify(root, data, source)
    if refusal is not None:
        return refusal
    assert decl_el is not None
    errors = check_document(meta if meta is not None else decl_el)
    if errors and not lenient:
        raise DmsSchemaError(source, errors)
    decl, ctx = read_declaration(decl_el, meta, kind, source)
    outside = _outside(root, meta) if kind == "wrapped" and meta is not None else []
    unmapped = _unmapped(ctx, outside)
    params: dict[str, Any] = {"path": source, "lrn": decl.lrn or "", "mrn": decl.mrn or "",
                              "items": len(decl.goods_items), "unmapped": len(unmapped)}
    if kind == "wrapped":
        params["envelope"] = local(root)
    return DmsImport(kind, fc, decl, unmapped, data, None, Message(f"dms.imported_{kind}", params),
                     refused=[(element_path(el), reason) for el, reason in ctx.refused],
                     dropped=[f"{element_path(el)}/@{key.rsplit('}', 1)[-1]}"
                              for el, key in ctx.dropped_attrs],
                     schema_errors=errors)


def import_dms_file(path: Path, *, max_bytes: int = MAX_BYTES,
                    lenient: bool = False) -> DmsImport:
    """Import one file (size checked before reading); see :func:`import_dms_bytes`."""
    data = read_bounded(Path(path), max_bytes=max_bytes)
    return import_dms_bytes(data, str(path), lenient=lenient)


__all__ = ["import_dms_bytes", "import_dms_file", "read_declaration", "classify", "Item",
           "DmsSchemaError"]

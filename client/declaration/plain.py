"""A declaration read straight from its plain JSON dict, for the validation rules.

The single window validates every envelope it receives; building the pydantic model of
a declaration cost more than all the rules run on it.  This reader walks the dict once
and gives the rules objects with the model's attributes (a missing field reads as the
model's default), so the same rules run on either form.

It only takes what the model would take unchanged: exact JSON types (a ``str`` for a
text, an ``int`` for a count, a plain decimal string for an amount, ``True``/``False``
for a flag), within the model's bounds, no surrounding whitespace (the model strips
it), no unknown member.  For anything else it answers ``None`` and the caller parses
with the model, which reports the ``V-STRUCTURE`` findings: what is taken here would
have parsed to the same values, so the findings are the same either way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from client.declaration.model import Declaration


class _NotPlain(Exception):
    """The input needs the model's own parsing (a coercion, a bound, an unknown member)."""


class Plain:
    """Base of the plain objects read here; ``plain_of`` is the model they stand for."""

    plain_of: type[BaseModel]


Reader = Callable[[Any], Any]
_NONE_TYPE = type(None)


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    """The constraints of a field or type (annotated-types and pydantic's own)."""
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, at.MaxLen):
            out["max_length"] = m.max_length
        elif isinstance(m, at.MinLen):
            out["min_length"] = m.min_length
        elif isinstance(m, at.Ge | at.Gt | at.Le | at.Lt):
            kind = type(m).__name__.lower()
            out[kind] = getattr(m, kind)
        elif hasattr(m, "metadata"):  # a FieldInfo inside Annotated
            out.update(_bounds(list(m.metadata)))
        elif type(m).__name__ in ("_PydanticGeneralMetadata", "AllowInfNan"):
            for key in ("max_digits", "decimal_places", "allow_inf_nan"):
                if hasattr(m, key):
                    out[key] = getattr(m, key)
        else:
            out["unknown"] = True  # a constraint not read here: the model decides
    return out


def _limits(value: Any, b: dict[str, Any]) -> bool:
    return not (("ge" in b and not value >= b["ge"]) or ("gt" in b and not value > b["gt"])
                or ("le" in b and not value <= b["le"]) or ("lt" in b and not value < b["lt"]))


def _not_plain(_value: Any) -> Any:
    raise _NotPlain


def _reader(annotation: Any, b: dict[str, Any]) -> Reader:
    """The reader of one value of this annotation (``b``: constraints from outside)."""
    if b.get("unknown"):
        return _not_plain
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _reader(args[0], {**_bounds(list(args[1:])), **b})
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not _NONE_TYPE]
        if len(rest) != 1:
            return _not_plain
        inner = _reader(rest[0], b)
        return lambda v: None if v is None else inner(v)
    if origin is typing.Literal:
        allowed = frozenset(a for a in args if type(a) is str)
        return lambda v: v if type(v) is str and v in allowed else _not_plain(v)
    if origin is list:
        return _list_reader(_reader(args[0], {}), b, plain=args[0] is str or _is_text(args[0]))
    if origin is dict:
        return _dict_reader(_reader(args[0], {}), _reader(args[1], {}), b)
    if annotation is str:
        return _str_reader(b)
    if annotation is int:
        return _int_reader(b)
    if annotation is bool and not b:
        return lambda v: v if type(v) is bool else _not_plain(v)
    if annotation is Decimal:
        return _amount_reader(b)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and not b:
        return _model_reader(annotation)
    return _not_plain


def _is_text(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Annotated \
        and typing.get_args(annotation)[0] is str


def _text_limit(annotation: Any, b: dict[str, Any]) -> int:
    """The max length of a field that is a text (optional or not) bounded by its length
    only, else -1."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation, b = args[0], {**_bounds(list(args[1:])), **b}
        elif origin in (typing.Union, types.UnionType) and len(args) == 2 and _NONE_TYPE in args:
            annotation = args[0] if args[1] is _NONE_TYPE else args[1]
        else:
            break
    if annotation is not str or set(b) - {"max_length"}:
        return -1
    return int(b.get("max_length", 1 << 62))


def _str_reader(b: dict[str, Any]) -> Reader:
    top, low = b.get("max_length", 1 << 62), b.get("min_length", 0)
    if set(b) - {"max_length", "min_length"}:
        return _not_plain

    def read(v: Any) -> Any:
        if type(v) is not str or not low <= len(v) <= top or (
                v and (v[0].isspace() or v[-1].isspace())):
            raise _NotPlain
        return v

    return read


def _int_reader(b: dict[str, Any]) -> Reader:
    if set(b) - {"ge", "gt", "le", "lt"}:
        return _not_plain
    return lambda v: v if type(v) is int and _limits(v, b) else _not_plain(v)


def _amount_reader(b: dict[str, Any]) -> Reader:
    """A decimal written plainly (``-12.50``), within its places and its whole digits
    (``max_digits - decimal_places``): read as the model reads it (``Decimal`` of the
    text); any other spelling, or a bound only normalising would meet, goes to the model."""
    digits, places = b.get("max_digits", 18), b.get("decimal_places", 6)
    if set(b) - {"ge", "gt", "le", "lt", "max_digits", "decimal_places", "allow_inf_nan"} \
            or digits > 18 or places > 6:
        return _not_plain

    whole_max = digits - places
    limits = {k: b[k] for k in ("ge", "gt", "le", "lt") if k in b}
    not_negative = limits == {"ge": 0}  # masses, amounts: the sign alone decides

    def read(v: Any) -> Any:
        if type(v) is not str or not v.isascii():
            raise _NotPlain
        negative = v[:1] == "-"
        whole, dot, frac = (v[1:] if negative else v).partition(".")
        if not whole.isdigit() or (dot and not frac.isdigit()) \
                or len(whole.lstrip("0")) > whole_max or len(frac) > places:
            raise _NotPlain  # another spelling, or bounds as the model counts them
        value = Decimal(v)
        if (negative if not_negative else limits and not _limits(value, limits)):
            raise _NotPlain
        return value

    return read


def _list_reader(item: Reader, b: dict[str, Any], plain: bool) -> Reader:
    top, low = b.get("max_length", 1 << 62), b.get("min_length", 0)
    if set(b) - {"max_length", "min_length"}:
        return _not_plain

    def read(v: Any) -> Any:
        if type(v) is not list or not low <= len(v) <= top:
            raise _NotPlain
        out = [item(x) for x in v]
        return v if plain else out

    return read


def _dict_reader(key: Reader, value: Reader, b: dict[str, Any]) -> Reader:
    top = b.get("max_length", 1 << 62)
    if set(b) - {"max_length"}:
        return _not_plain

    def read(v: Any) -> Any:
        if type(v) is not dict or len(v) > top:
            raise _NotPlain
        return {key(k): value(x) for k, x in v.items()}

    return read


@cache
def _model_reader(model: type[BaseModel]) -> Reader:
    """Reads a dict into a plain object of ``model``'s shape (class attributes hold the
    defaults: a list field left out reads as an empty tuple, read-only)."""
    decorators = model.__pydantic_decorators__
    if any(getattr(decorators, kind) for kind in (
            "validators", "field_validators", "root_validators", "model_validators")):
        return _not_plain  # a validator of its own: only the model runs it
    if model.model_config.get("extra") != "forbid" or model.model_config.get("strict"):
        return _not_plain
    plain_cls = type(f"Plain{model.__name__}", (Plain,), {
        "model_fields": model.model_fields, "plain_of": model,
        "__doc__": f"{model.__name__}, read plainly."})
    required: list[str] = []
    for name, info in model.model_fields.items():
        if info.alias is not None and info.alias != name:
            return _not_plain
        if info.default is not PydanticUndefined:
            setattr(plain_cls, name, info.default)
        elif info.default_factory in (list, dict):
            setattr(plain_cls, name, () if info.default_factory is list
                    else types.MappingProxyType({}))
        else:
            required.append(name)  # required, or made up (a new id): the model decides
    # per field: the longest text taken inline (-1: not a plain text), and its reader
    readers: dict[str, tuple[int, Reader]] = {}

    def read(v: Any) -> Any:
        if type(v) is not dict:
            raise _NotPlain
        if not readers:  # built on first use: the models refer to each other
            for name, info in model.model_fields.items():
                b = _bounds(list(info.metadata))
                readers[name] = (_text_limit(info.annotation, b), _reader(info.annotation, b))
        obj = plain_cls.__new__(plain_cls)
        into = obj.__dict__
        for k, x in v.items():
            spec = readers.get(k)
            if spec is None:
                raise _NotPlain  # extra="forbid"
            if type(x) is str and spec[0] >= 0:  # most fields: a text read in place
                if len(x) > spec[0] or (x and (x[0].isspace() or x[-1].isspace())):
                    raise _NotPlain
                into[k] = x
            else:
                into[k] = spec[1](x)
        for name in required:
            if name not in into:
                raise _NotPlain
        return obj

    return read


def read_declaration(document: dict[str, Any]) -> Any:
    """``document`` (a declaration's JSON dict) as the rules read it: plainly when the
    model would take it unchanged, else parsed by the model (which raises on what it
    refuses).  The seal reads its stored snapshot once, this way."""
    plain = plain_declaration(document)
    return plain if plain is not None else Declaration.model_validate(document)


def is_plain_declaration(value: Any) -> bool:
    """True for what :func:`plain_declaration` returns."""
    return isinstance(value, Plain) and value.plain_of is Declaration


def _check_config() -> None:
    config = Declaration.model_config
    if config.get("extra") != "forbid" or config.get("strict") or config.get("alias_generator"):
        raise TypeError("the declaration model's configuration is not the one read here")


_check_config()


def plain_declaration(document: dict[str, Any]) -> Any | None:
    """The declaration's fields as the rules read them, or None when only the model can
    say what ``document`` is (then parse it with :class:`Declaration`)."""
    try:
        return _model_reader(Declaration)(document)
    except (_NotPlain, RecursionError):
        return None

"""Headless commands on declarations: init, schema, new, import, validate, list, show,
history, export, copy, demo seed, seal, verify, journal verify, rekey.

Every command reads untrusted input fully and checks it before the store is touched,
so that a bad file leaves the store exactly as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.common.files import read_json_file
from client.common.i18n import ComptoirError, Message, tr
from client.declaration import states
from client.declaration.model import Declaration, json_schema, new_lrn
from client.interchange.json_io import read_declarations
from client.seal.profile import Profile, init_profile, load_or_init, open_store, profile_exists
from client.seal.sealing import Sealer, SealRefused, validation_findings
from client.store import Store, history_message
from client.store import history_notes as notes

# --------------------------------------------------------------------------- helpers

class Session:
    """The profile and its open store for one command."""

    def __init__(self, home: Path) -> None:
        self.profile: Profile = load_or_init(home)
        self._secrets: Any = None
        self.store: Store = open_store(self.profile, secrets=self.secrets)

    @property
    def secrets(self) -> Any:
        if self._secrets is None:
            from client.seal.profile import secret_store

            self._secrets = secret_store(self.profile)
            warning = getattr(self._secrets, "last_warning", None)
            if warning is not None:
                print(f"comptoir: {warning.render()}", file=sys.stderr)
        return self._secrets

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        _write_file(output, text.encode("utf-8"))


def _write_file(output: Path, data: bytes) -> None:
    try:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, output)
    except OSError as exc:
        raise ComptoirError("error.file_unwritable", 2, path=str(output),
                            reason=exc.strerror or str(exc)) from exc


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def print_findings(findings: list[Any], out: Any = None) -> None:
    out = out or sys.stdout
    for f in findings:
        sev = tr(f"severity.{f.severity}")
        print(f"{sev} {f.code} DE {f.de} {f.path}: {f.message.render()}", file=out)


# --------------------------------------------------------------------------- commands

def cmd_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    if profile_exists(home):
        print(tr("init.exists", home=str(home)))
        return 0
    profile = init_profile(home, role=args.role, declarant_id=args.declarant,
                           key_alg=None if args.no_key else args.alg)
    print(tr("init.done", home=str(home), role=profile.role, device=profile.device_id))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(_dumps(json_schema()))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    with Session(args.home) as s:
        decl = Declaration(type=args.type, lrn=args.lrn or new_lrn())
        if s.profile.declarant_id:
            from client.declaration.model import Party

            decl.declarant = Party(id=s.profile.declarant_id)
        s.store.create(decl, s.profile.actor())
        print(decl.id)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    files: list[Path] = args.files
    xml = [f for f in files if f.suffix.lower() == ".xml"]
    if xml:
        return _import_xml(args, files)
    # Read and check everything first: a bad file leaves the store untouched.
    decls: list[Declaration] = []
    for f in files:
        decls.extend(read_declarations(f))
    seen: set[str] = set()
    with Session(args.home) as s:
        for d in decls:
            if d.id in seen or s.store.exists(d.id):
                raise ComptoirError("import.duplicate_id", 2, id=d.id)
            seen.add(d.id)
        s.store.create_many(decls, s.profile.actor(), note=notes.IMPORTED())
    if args.json:
        print(_dumps([{"id": d.id, "kind": "declaration", "lrn": d.lrn, "unmapped": []}
                      for d in decls]))
    else:
        for d in decls:
            print(tr("import.done", id=d.id, lrn=d.lrn or "-"))
    return 0


def _import_xml(args: argparse.Namespace, files: list[Path]) -> int:
    from client.interchange.dms import import_dms_file

    results = [import_dms_file(f) for f in files]  # parse all first
    out: list[dict[str, Any]] = []
    code = 0
    with Session(args.home) as s:
        for f, r in zip(files, results, strict=True):
            entry: dict[str, Any] = {"file": str(f), "id": None, "kind": r.kind, "lrn": None,
                                     "unmapped": list(r.unmapped),
                                     "message": r.message.render() if r.message else None}
            if r.declaration is not None:
                d = r.declaration
                if s.store.exists(d.id):
                    raise ComptoirError("import.duplicate_id", 2, id=d.id)
                s.store.create(d, s.profile.actor(), note=notes.IMPORTED_FROM(file=f.name))
                s.store.add_attachment(d.id, f.name, "application/xml", r.original)
                entry.update(id=d.id, lrn=d.lrn)
            else:
                code = max(code, 1 if r.kind in ("notification",) else 2)
            out.append(entry)
    if args.json:
        print(_dumps(out))
    else:
        for e in out:
            if e["id"]:
                print(tr("import.done_xml", file=e["file"], id=e["id"], lrn=e["lrn"] or "-",
                         kind=e["kind"], unmapped=len(e["unmapped"])))
            else:
                print(f"{e['file']}: {e['message']}", file=sys.stderr)
    return 0 if all(e["id"] for e in out) else code or 2


def cmd_validate(args: argparse.Namespace) -> int:
    from client.declaration.validation import has_errors

    path = Path(args.target)
    if path.suffix.lower() == ".json" or path.is_file():
        value = read_json_file(path)
        if isinstance(value, dict):
            findings = validation_findings(value, None)
        else:
            raise ComptoirError("error.declaration_invalid", 2, path=str(path), field="(root)",
                                reason=tr("error.expected_object"))
    else:
        with Session(args.home) as s:
            decl_id = s.store.resolve_id(args.target)
            findings = validation_findings(s.store.get(decl_id).declaration, s.store, decl_id,
                                           home=s.profile.home)
    if args.json:
        print(_dumps([f.to_json() for f in findings]))
    else:
        print_findings(findings)
        if not findings:
            print(tr("validate.clean"))
    return 1 if has_errors(findings) else 0


def cmd_list(args: argparse.Namespace) -> int:
    statuses = [args.status] if args.status else None
    if args.status and args.status not in states.STATES:
        raise ComptoirError("list.bad_status", 2, status=args.status,
                            known=", ".join(states.STATES))
    with Session(args.home) as s:
        rows = s.store.list(statuses=statuses, search=args.search, limit=args.limit)
    if args.json:
        print(_dumps([r.to_json() for r in rows]))
        return 0
    for r in rows:
        print(f"{r.id}  {r.type}  {tr('status.' + r.status):<20}  {r.lrn or '-':<22}  "
              f"{r.mrn or '-':<18}  {r.updated_at}")
    return 0


def pointer_to_path(pointer: str) -> str:
    """A JSON pointer (``/goods_items/0/procedure_code``) as a model path
    (``goods_items[0].procedure_code``); model paths pass through."""
    if not pointer.startswith("/"):
        return pointer
    out = ""
    for step in pointer[1:].split("/"):
        step = step.replace("~1", "/").replace("~0", "~")
        out += f"[{step}]" if step.isdigit() else ("." if out else "") + step
    return out


def rejection_reasons(store: Store, decl_id: str, home: Path) -> list[dict[str, Any]]:
    """The single window's rejection codes for the current version, each explained from
    the reference data in the user's language, with the field it points to."""
    from client.common.i18n import language
    from client.declaration.model import de_number
    from client.declaration.refdata import profile_reference_data

    ref = profile_reference_data(home / "refdata")
    lang = language()
    for entry in reversed(store.history(decl_id)):
        if entry.to_status == states.REJECTED and entry.detail and entry.detail.get("errors"):
            out = []
            for err in entry.detail["errors"]:
                code = str(err.get("code", ""))
                pointer = str(err.get("pointer") or "")
                path = pointer_to_path(pointer)
                try:
                    de = de_number(path) if path else None
                except ValueError:
                    de = None
                out.append({"code": code, "pointer": pointer, "de": de,
                            "explanation": ref.explain_error(code, lang) or err.get("detail") or "",
                            "detail": err.get("detail") or ""})
            return out
        if entry.to_status != states.REJECTED and entry.from_status == states.REJECTED:
            return []
    return []


def cmd_show(args: argparse.Namespace) -> int:
    with Session(args.home) as s:
        decl_id = s.store.resolve_id(args.id)
        st = s.store.get(decl_id)
        receipts = s.store.receipts(decl_id)
        reasons = rejection_reasons(s.store, decl_id, s.profile.home) \
            if st.status == states.REJECTED else []
    from client.officer.decisions import received_decisions

    decisions = received_decisions(args.home, decl_id)
    if args.json:
        print(_dumps({"id": decl_id, "status": st.status, "mrn": st.mrn,
                      "created_at": st.created_at, "updated_at": st.updated_at,
                      "sealed_at": st.sealed_at, "envelope_hash": st.envelope_hash,
                      "receipts": [{"seq": r["seq"], "mrn": r["mrn"],
                                    "received_at": r["received_at"]} for r in receipts],
                      "rejection": reasons,
                      "decisions": [d.to_json() for d in decisions],
                      "declaration": st.declaration.to_json_dict()}))
        return 0
    d = st.declaration
    print(tr("show.header", id=d.id, type=d.type, version=d.version,
             status=tr("status." + st.status), lrn=d.lrn or "-", mrn=st.mrn or "-"))
    for r in reasons:
        print(tr("show.rejection", code=r["code"], explanation=r["explanation"],
                 field=r["pointer"] or "-", de=r["de"] or "-"))
    if reasons:
        print(tr("show.rejection_next", id=d.id))
    for dec in decisions:
        print(tr("officer.received_conflict" if dec.conflict else "officer.received_line",
                 at=dec.at, officer=dec.officer_id, outcome=dec.outcome,
                 decided_at=dec.decided_at, reason=dec.reason or "-",
                 verified=tr("officer.verified") if dec.verified
                 else tr("officer.not_verified", problem=dec.problem or "-")))
    print(_dumps(d.to_json_dict()))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with Session(args.home) as s:
        decl_id = s.store.resolve_id(args.id)
        entries = s.store.history(decl_id)
    if args.json:
        print(_dumps([{**e.__dict__, "message": history_message(e).render()} for e in entries]))
        return 0
    for e in entries:
        frm = tr("status." + e.from_status) if e.from_status else "-"
        print(tr("history.line", at=e.at, actor=e.actor, version=e.version, frm=frm,
                 to=tr("status." + e.to_status), note=history_message(e)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with Session(args.home) as s:
        decl_id = s.store.resolve_id(args.id)
        st = s.store.get(decl_id)
        fmt = args.format
        if fmt == "json":
            _emit(_dumps(st.declaration.to_json_dict()), args.output)
        elif fmt == "envelope":
            entry = s.store.journal_entry(declaration_id=decl_id, version=st.declaration.version)
            if entry is None:
                raise ComptoirError("export.not_sealed", 2, id=decl_id)
            _emit(_dumps(entry.envelope), args.output)
        elif fmt == "dms-xml":
            from client.interchange.dms import export_dms

            data = export_dms(st.declaration)
            if args.output is None:
                sys.stdout.buffer.write(data)
            else:
                _write_file(args.output, data)
        elif fmt in ("pdf", "fallback-pdf"):
            _export_pdf(s, decl_id, st, fmt, args.output)
    return 0


def _export_pdf(s: Session, decl_id: str, st: Any, fmt: str, output: Path | None) -> None:
    from client.common.i18n import language
    from client.interchange import printing

    if output is None:
        raise ComptoirError("export.pdf_needs_output", 2)
    if fmt == "pdf":
        data = printing.render_pdf(st.declaration, status=st.status, mrn=st.mrn,
                                   envelope_hash=st.envelope_hash, lang=language())
    else:
        entry = s.store.journal_entry(declaration_id=decl_id, version=st.declaration.version)
        if entry is None:
            raise ComptoirError("export.not_sealed", 2, id=decl_id)
        from client.seal.sealing import fallback_qr_payload, signature_fingerprint

        data = printing.render_fallback_pdf(
            st.declaration, envelope_hash=entry.envelope_hash,
            signature_fingerprint=signature_fingerprint(entry.envelope),
            sealed_at=entry.sealed_at, lang=language(),
            qr_payload=fallback_qr_payload(entry.envelope))
        s.store.mark_fallback_printed(decl_id, s.profile.actor())
    _write_file(output, data)


def cmd_copy(args: argparse.Namespace) -> int:
    from client.declaration.model import new_declaration_id

    with Session(args.home) as s:
        src = s.store.get(s.store.resolve_id(args.id)).declaration
        copy = src.model_copy(update={"id": new_declaration_id(), "version": 1,
                                      "lrn": args.lrn or new_lrn(), "mrn": None,
                                      "function": "original", "amends": None}, deep=True)
        s.store.create(copy, s.profile.actor(), note=notes.COPIED_FROM(source=src.id))
        print(copy.id)
    return 0


def cmd_amend(args: argparse.Namespace) -> int:
    with Session(args.home) as s:
        decl = s.store.new_version(s.store.resolve_id(args.id), s.profile.actor(),
                                   function="cancellation" if args.cancel else None)
        print(tr("amend.done", id=decl.id, version=decl.version, function=decl.function))
    return 0


def cmd_ready(args: argparse.Namespace) -> int:
    from client.declaration.validation import has_errors

    with Session(args.home) as s:
        decl_id = s.store.resolve_id(args.id)
        findings = validation_findings(s.store.get(decl_id).declaration, s.store, decl_id,
                                       home=s.profile.home)
        if has_errors(findings):
            print_findings(findings, sys.stderr)
            return 1
        s.store.transition(decl_id, states.READY, s.profile.actor(), note=notes.CHECKED())
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from client.declaration.samples import sample_declaration

    if args.count < 0 or args.count > 1_000_000:
        raise ComptoirError("demo.bad_count", 2, count=args.count)
    rng = random.Random(args.seed)
    with Session(args.home) as s:
        declarant = s.profile.declarant_id or "GB123456789000"
        made = 0
        while made < args.count:
            n = min(500, args.count - made)
            batch = []
            for _ in range(n):
                d = sample_declaration(rng, n_items=rng.randint(1, 6), declarant_id=declarant)
                d.lrn = new_lrn(rng) + f"{made:06d}"[-6:]
                d.lrn = d.lrn[:22]
                batch.append(d)
                made += 1
            s.store.create_many(batch, s.profile.actor(), status=states.READY, note=notes.DEMO_SEED())
    print(tr("demo.seeded", count=args.count))
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    if not args.id and not args.all_ready:
        raise ComptoirError("seal.nothing", 2)
    sealed = 0
    refused = 0
    with Session(args.home) as s:
        ids = [s.store.resolve_id(args.id)] if args.id else \
            s.store.list_ids(statuses=[states.READY], order_by="created_at", descending=False)
        sealer = Sealer(s.profile, s.store, s.secrets) if ids else None
        for decl_id in ids:
            try:
                assert sealer is not None
                entry = sealer.seal(decl_id)
            except SealRefused as exc:
                refused += 1
                print(f"comptoir: {exc.render()}", file=sys.stderr)
                print_findings(exc.findings, sys.stderr)
                continue
            sealed += 1
            if args.id:
                print(tr("seal.done", id=decl_id, seq=entry.seq, hash=entry.envelope_hash[:16]))
    if args.all_ready:
        print(tr("seal.summary", sealed=sealed, refused=refused))
    return 1 if refused else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from client.officer.verify import verify_input

    outcome = verify_input(args.home, args.target)
    stream = sys.stdout if outcome.ok else sys.stderr
    for line in outcome.lines:
        print(line.render() if isinstance(line, Message) else str(line), file=stream)
    return 0 if outcome.ok else 1


def cmd_journal_verify(args: argparse.Namespace) -> int:
    from client.seal.journal import verify_journal

    with Session(args.home) as s:
        result = verify_journal(s.store)
    if result.ok:
        print(tr("journal.intact", count=result.count, head=(result.head or "-")[:16]))
        return 0
    print(f"comptoir: {result.problem.render()}", file=sys.stderr)
    return 1


def cmd_rekey(args: argparse.Namespace) -> int:
    from client.seal.profile import rekey

    with Session(args.home) as s:
        rekey(s.profile, s.store, secrets=s.secrets)
    print(tr("rekey.done"))
    return 0


def _usage(detail: str) -> Callable[[argparse.Namespace], int]:
    """Handler of a command group given without its subcommand."""
    def handler(args: argparse.Namespace) -> int:
        raise ComptoirError("error.usage", 2, detail=detail)
    return handler


def register(sub: Any) -> None:
    def add(name: str, func: Callable[[argparse.Namespace], int], help_key: str) -> Any:
        p = sub.add_parser(name, help=tr(help_key), description=tr(help_key))
        p.set_defaults(func=func)
        return p

    p = add("init", cmd_init, "help.init")
    p.add_argument("--role", choices=["trader", "officer"], default="trader")
    p.add_argument("--declarant", help=tr("help.declarant"))
    p.add_argument("--alg", choices=["ES256", "Ed25519"], default="ES256")
    p.add_argument("--no-key", action="store_true", help=tr("help.no_key"))

    add("schema", cmd_schema, "help.schema")

    p = add("new", cmd_new, "help.new")
    p.add_argument("--type", choices=["IM", "EX", "CO"], required=True)
    p.add_argument("--lrn")

    p = add("import", cmd_import, "help.import")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true")

    p = add("validate", cmd_validate, "help.validate")
    p.add_argument("target", help="ID|FILE")
    p.add_argument("--json", action="store_true")

    p = add("list", cmd_list, "help.list")
    p.add_argument("--status")
    p.add_argument("--search")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")

    p = add("show", cmd_show, "help.show")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = add("history", cmd_history, "help.history")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = add("export", cmd_export, "help.export")
    p.add_argument("id")
    p.add_argument("--format", default="json",
                   choices=["json", "envelope", "dms-xml", "pdf", "fallback-pdf"])
    p.add_argument("-o", "--output", type=Path)

    p = add("copy", cmd_copy, "help.copy")
    p.add_argument("id")
    p.add_argument("--lrn")

    p = add("amend", cmd_amend, "help.amend")
    p.add_argument("id")
    p.add_argument("--cancel", action="store_true")

    p = add("ready", cmd_ready, "help.ready")
    p.add_argument("id")

    demo = add("demo", _usage("comptoir demo seed --count N"), "help.demo")
    dsub = demo.add_subparsers(dest="demo_command", parser_class=type(demo))
    p = dsub.add_parser("seed", help=tr("help.demo_seed"))
    p.set_defaults(func=cmd_demo_seed)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=None)

    p = add("seal", cmd_seal, "help.seal")
    p.add_argument("id", nargs="?")
    p.add_argument("--all-ready", action="store_true")

    p = add("verify", cmd_verify, "help.verify")
    p.add_argument("target", help="FILE|TOKEN")

    journal = add("journal", _usage("comptoir journal verify"), "help.journal")
    jsub = journal.add_subparsers(dest="journal_command", parser_class=type(journal))
    p = jsub.add_parser("verify", help=tr("help.journal_verify"))
    p.set_defaults(func=cmd_journal_verify)

    add("rekey", cmd_rekey, "help.rekey")

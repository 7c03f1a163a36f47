"""Headless commands on declarations: init, schema, new, import, validate, list, show,
history, export, copy, amend, ready, demo seed, seal, fallback, verify, journal
verify, rekey.

Each handler reads its arguments, calls one or two functions of :mod:`client.services`
and prints what comes back; the services read untrusted input fully and check it before
the store is touched, so that a bad file leaves the store exactly as it was.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.cli.render import dumps, emit, print_findings, render, warn
from client.common.i18n import ComptoirError, tr
from client.declaration import states
from client.declaration.continuity import countdown
from client.declaration.labels import place_label
from client.declaration.validation import has_errors
from client.interchange.dms import DmsSchemaError
from client.services.continuity import (
    fallback_declaration,
    lodging_deadline,
    print_fallback_documents,
)
from client.services.declarations import (
    ReadyRefused,
    amend_declaration,
    check_demo_count,
    copy_declaration,
    create_declaration,
    find_declaration,
    mark_ready,
    seed_demo,
)
from client.services.exports import (
    FILE_ONLY,
    FORMATS,
    export_to_file,
    render_export,
)
from client.services.imports import commit_import, read_import
from client.services.officer import received, verify_envelope
from client.services.sealing import (
    SealOutcome,
    SealReport,
    check_journal,
    ready_to_seal,
    seal_declarations,
)
from client.services.session import Session, rotate_database_key, set_up_profile
from client.services.templates import new_from_previous
from client.services.validation import declaration_schema, validate_file, validate_stored
from client.services.views import (
    declaration_detail,
    declaration_history,
    list_declarations,
    status_filter,
)
from client.store import history_message


def _session(args: argparse.Namespace) -> Session:
    """The profile of ``--home`` and its store, a keyring warning shown on stderr."""
    return Session(args.home, on_warning=warn)


# --------------------------------------------------------------------------- commands

def cmd_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    result = set_up_profile(home, role=args.role, declarant_id=args.declarant,
                            key_alg=None if args.no_key else args.alg)
    if result.profile is None:
        print(tr("init.exists", home=str(home)))
        return 0
    print(tr("init.done", home=str(home), role=result.profile.role,
             device=result.profile.device_id))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(dumps(declaration_schema()))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    if (args.type is None) == (args.source is None):
        raise ComptoirError("error.usage", 2, detail="comptoir new --type IM|EX|CO | --from ID")
    with _session(args) as s:
        if args.source is not None:  # "new from previous"
            made = new_from_previous(s.store, s.actor(), find_declaration(s.store, args.source),
                                     lrn=args.lrn)
        else:
            made = create_declaration(s.store, s.actor(), type=args.type, lrn=args.lrn,
                                      declarant_id=s.profile.declarant_id)
        print(made.id)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        pending = read_import(args.files, lenient=args.lenient)  # every file checked first
    except DmsSchemaError as exc:  # each schema error on its line, then the refusal
        for err in exc.errors:
            print(f"{exc.message.params['path']}: {err.render()}", file=sys.stderr)
        raise
    for f, r in zip(pending.files, pending.dms or [], strict=False):
        if r.schema_errors:  # imported all the same (--lenient): say what is wrong
            print(tr("dms.schema_kept", path=str(f), count=len(r.schema_errors)),
                  file=sys.stderr)
            for err in r.schema_errors:
                print(f"  {err.render()}", file=sys.stderr)
    with _session(args) as s:
        report = commit_import(s.store, s.actor(), pending)
    if not report.xml:
        if args.json:
            print(dumps([{"id": i.declaration_id, "kind": "declaration", "lrn": i.lrn,
                          "unmapped": []} for i in report.items]))
        else:
            for i in report.items:
                print(tr("import.done", id=i.declaration_id, lrn=i.lrn or "-"))
        return 0
    out = [_xml_entry(i) for i in report.items]
    if args.json:
        print(dumps(out))
    else:
        for e in out:
            if e.get("applied") == "applied":
                print(tr("import.amendment_applied", file=e["file"],
                         kind=tr(f"dms.kind.{e['kind']}"), id=e["id"],
                         version=e["version"], errors=e["errors"]))
            elif e.get("applied") == "pending":
                print(tr("import.amendment_pending", file=e["file"],
                         kind=tr(f"dms.kind.{e['kind']}"),
                         mrn=e["mrn"] or "-", lrn=e["lrn"] or "-", errors=e["errors"]))
            elif e["id"]:
                print(tr("import.done_xml", file=e["file"], id=e["id"], lrn=e["lrn"] or "-",
                         kind=e["kind"], unmapped=len(e["unmapped"])))
            else:
                print(f"{e['file']}: {e['message']}", file=sys.stderr)
    return report.exit_code


def _xml_entry(i: Any) -> dict[str, Any]:
    """One DMS file of ``comptoir import --json``."""
    e: dict[str, Any] = {"file": str(i.file), "id": i.declaration_id, "kind": i.kind,
                         "lrn": i.lrn, "unmapped": list(i.unmapped),
                         "message": i.message.render() if i.message else None}
    if i.schema_errors:
        e["schema_errors"] = [x.to_json() for x in i.schema_errors]
    if i.declaration_id or i.pending_id:
        e["normalised"] = [x.to_json() for x in i.normalised]  # empty: lossless
    if i.applied:
        e.update(applied=i.applied, version=i.version, pending=i.pending_id, mrn=i.mrn,
                 errors=i.errors)
    if i.amendments_applied:
        e["amendments_applied"] = list(i.amendments_applied)
    return e


def cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.target)
    if path.suffix.lower() == ".json" or path.is_file():
        findings = validate_file(path)
    else:
        with _session(args) as s:
            findings = validate_stored(s.store, find_declaration(s.store, args.target),
                                       home=s.home)
    if args.json:
        print(dumps([f.to_json() for f in findings]))
    else:
        print_findings(findings)
        if not findings:
            print(tr("validate.clean"))
    return 1 if has_errors(findings) else 0


def cmd_list(args: argparse.Namespace) -> int:
    statuses = status_filter(args.status)
    with _session(args) as s:
        rows = list_declarations(s.store, statuses=statuses, search=args.search,
                                 limit=args.limit)
    if args.json:
        print(dumps([r.to_json() for r in rows]))
        return 0
    for r in rows:
        due = countdown(r.lodge_by)
        print(f"{r.id}  {r.type}  {tr('status.' + r.status):<20}  {r.lrn or '-':<22}  "
              f"{r.mrn or '-':<18}  {r.updated_at}" + (f"  {due.render()}" if due else ""))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _session(args) as s:
        decl_id = find_declaration(s.store, args.id)
        detail = declaration_detail(s.store, decl_id, s.home)
    decisions = received(args.home, decl_id)
    st = detail.stored
    if args.json:
        print(dumps({"id": decl_id, "status": st.status, "mrn": st.mrn,
                     "created_at": st.created_at, "updated_at": st.updated_at,
                     "sealed_at": st.sealed_at, "envelope_hash": st.envelope_hash,
                     "receipts": [{"seq": r["seq"], "mrn": r["mrn"],
                                   "received_at": r["received_at"]} for r in detail.receipts],
                     "rejection": [r.to_json() for r in detail.rejection],
                     "decisions": [d.to_json() for d in decisions],
                     "declaration": st.declaration.to_json_dict()}))
        return 0
    d = st.declaration
    print(tr("show.header", id=d.id, type=d.type, version=d.version,
             status=tr("status." + st.status), lrn=d.lrn or "-", mrn=st.mrn or "-"))
    for r in detail.rejection:
        print(tr("show.rejection", code=r.code, explanation=r.explanation,
                 field=place_label(r.pointer, r.de)))
    if detail.rejection:
        print(tr("show.rejection_next", id=d.id))
    for dec in decisions:
        print(tr("officer.received_conflict" if dec.conflict else "officer.received_line",
                 at=dec.at, officer=dec.officer_id, outcome=dec.outcome,
                 decided_at=dec.decided_at, reason=dec.reason or "-",
                 verified=tr("officer.verified") if dec.verified
                 else tr("officer.not_verified", problem=dec.problem or "-")))
    print(dumps(d.to_json_dict()))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with _session(args) as s:
        entries = declaration_history(s.store, find_declaration(s.store, args.id))
    if args.json:
        print(dumps([{**e.__dict__, "message": history_message(e).render()} for e in entries]))
        return 0
    for e in entries:
        frm = tr("status." + e.from_status) if e.from_status else "-"
        print(tr("history.line", at=e.at, actor=e.actor, version=e.version, frm=frm,
                 to=tr("status." + e.to_status), note=history_message(e)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format
    with _session(args) as s:
        decl_id = find_declaration(s.store, args.id)
        if args.output is not None:
            export_to_file(s.store, decl_id, fmt, args.output, actor=s.actor())
            return 0
        if fmt in FILE_ONLY:
            raise ComptoirError("export.pdf_needs_output", 2)
        data = render_export(s.store, decl_id, fmt)
    if fmt == "dms-xml":
        sys.stdout.buffer.write(data)
    else:
        emit(data.decode("utf-8"), None)
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    with _session(args) as s:
        made = copy_declaration(s.store, s.actor(), find_declaration(s.store, args.id),
                                lrn=args.lrn)
        print(made.id)
    return 0


def cmd_amend(args: argparse.Namespace) -> int:
    with _session(args) as s:
        decl = amend_declaration(s.store, s.actor(), find_declaration(s.store, args.id),
                                 cancel=args.cancel,
                                 post_release=args.post_release).declaration
        print(tr("amend.done", id=decl.id, version=decl.version, function=decl.function))
    return 0


def cmd_ready(args: argparse.Namespace) -> int:
    with _session(args) as s:
        try:
            mark_ready(s.store, s.actor(), [find_declaration(s.store, args.id)], home=s.home)
        except ReadyRefused as exc:
            print_findings(exc.findings, sys.stderr)
            return 1
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    check_demo_count(args.count)
    with _session(args) as s:
        seed_demo(s.store, s.actor(), args.count, seed=args.seed,
                  declarant_id=s.profile.declarant_id)
    print(tr("demo.seeded", count=args.count))
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    if not args.id and not args.all_ready:
        raise ComptoirError("seal.nothing", 2)

    def shown(outcome: SealOutcome) -> None:
        if outcome.refused is not None:
            warn(outcome.refused.message)
            print_findings(outcome.refused.findings, sys.stderr)
        elif args.id and outcome.entry is not None:
            print(tr("seal.done", id=outcome.declaration_id, seq=outcome.entry.seq,
                     hash=outcome.entry.envelope_hash[:16]))

    with _session(args) as s:
        ids = [find_declaration(s.store, args.id)] if args.id else ready_to_seal(s.store)
        report = seal_declarations(s.sealer(), ids, on_outcome=shown) if ids else SealReport()
    if args.all_ready:
        print(tr("seal.summary", sealed=len(report.sealed), refused=len(report.refused)))
    return 1 if report.refused else 0


def cmd_fallback(args: argparse.Namespace) -> int:
    """``fallback ID [-o FILE.pdf]`` or ``fallback --all-queued [-o DIR]``: the paper
    document the declaration's continuity rule names, and the rule followed."""
    if bool(args.id) == bool(args.all_queued):
        raise ComptoirError("fallback.one_or_all", 2)
    if args.all_queued:
        folder = args.output or Path(".")
        with _session(args) as s:
            result = print_fallback_documents(s.store, s.actor(), folder)
            paper = {i for i in result.declaration_ids
                     if s.store.get(i).status == states.PAPER_PROCEDURE}
        if args.json:
            print(dumps([{"id": i, "path": str(p), "paper_procedure": i in paper}
                         for i, p in zip(result.declaration_ids, result.paths, strict=True)]))
            return 0
        for path in result.paths:
            print(tr("fallback.written", path=str(path)))
        print(tr("fallback.summary", count=len(result.paths), folder=str(folder)))
        return 0
    with _session(args) as s:
        decl_id = find_declaration(s.store, args.id)
        done = fallback_declaration(s.store, s.sealer(), s.actor(), decl_id, args.output)
        st = s.store.get(decl_id)
        lodge_by = lodging_deadline(st)
    ident = st.declaration.lrn or decl_id
    if args.json:
        print(dumps({"id": decl_id, "path": str(done.path), "status": st.status,
                     "paper_procedure": done.paper_procedure,
                     "withdrawal_seq": done.withdrawal.seq if done.withdrawal else None,
                     "lodge_by": lodge_by}))
        return 0
    print(tr("fallback.written", path=str(done.path)))
    if done.withdrawal is not None:
        print(tr("fallback.withdrawal_queued", id=ident))
    elif done.paper_procedure:
        print(tr("fallback.paper_procedure", id=ident))
    else:
        print(tr("fallback.lodge_after", id=ident, countdown=countdown(lodge_by) or "-"))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    outcome = verify_envelope(args.home, args.target)
    stream = sys.stdout if outcome.ok else sys.stderr
    for line in outcome.lines:
        print(render(line), file=stream)
    return 0 if outcome.ok else 1


def cmd_journal_verify(args: argparse.Namespace) -> int:
    with _session(args) as s:
        result = check_journal(s.store)
    if result.ok:
        print(tr("journal.intact", count=result.count, head=(result.head or "-")[:16]))
        return 0
    assert result.problem is not None
    warn(result.problem)
    return 1


def cmd_rekey(args: argparse.Namespace) -> int:
    with _session(args) as s:
        rotate_database_key(s)
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
    p.add_argument("--type", choices=["IM", "EX", "CO"])
    p.add_argument("--from", dest="source", metavar="ID", help=tr("help.new_from"))
    p.add_argument("--lrn")

    p = add("import", cmd_import, "help.import")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--lenient", action="store_true", help=tr("help.lenient"))

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
    p.add_argument("--format", default="json", choices=list(FORMATS))
    p.add_argument("-o", "--output", type=Path)

    p = add("copy", cmd_copy, "help.copy")
    p.add_argument("id")
    p.add_argument("--lrn")

    p = add("amend", cmd_amend, "help.amend")
    p.add_argument("id")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--cancel", action="store_true", help=tr("help.amend_cancel"))
    group.add_argument("--post-release", action="store_true",
                       help=tr("help.amend_post_release"))

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

    p = add("fallback", cmd_fallback, "help.fallback")
    p.add_argument("id", nargs="?", metavar="ID")
    p.add_argument("--all-queued", action="store_true", help=tr("help.fallback_all_queued"))
    p.add_argument("-o", "--output", type=Path, metavar="FILE.pdf|DIR",
                   help=tr("help.fallback_output"))
    p.add_argument("--json", action="store_true")

    p = add("verify", cmd_verify, "help.verify")
    p.add_argument("target", help="FILE|TOKEN")

    journal = add("journal", _usage("comptoir journal verify"), "help.journal")
    jsub = journal.add_subparsers(dest="journal_command", parser_class=type(journal))
    p = jsub.add_parser("verify", help=tr("help.journal_verify"))
    p.set_defaults(func=cmd_journal_verify)

    add("rekey", cmd_rekey, "help.rekey")

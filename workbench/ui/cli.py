"""The ``workbench`` command. It calls the same functions as the notebooks.

Modules only some commands use (the data map's export, the answers, packages, the policy audit)
are imported inside those commands: every other command, ``workbench import`` above all, starts
sooner without them."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
from pathlib import Path

import duckdb
from tqdm import tqdm

from workbench import pipeline
from workbench.audit import trail
from workbench.datamap import linkage, mail
from workbench.errors import WorkbenchError, printable
from workbench.ingest.headers import confirm_system, systems
from workbench.ingest.sources import SYSTEM_PREFIX, generic
from workbench.reference import register
from workbench.rights import erasure, letters, requests
from workbench.store.workspace import ImportResult, StorageError, Workspace, default_path, storage_problem


def _print_import(result: ImportResult) -> None:
    extract, kind = result.extract, result.extract.kind
    if result.unchanged:
        when = result.previous.get("imported_at")
        since = f" (import #{result.previous['import_id']} of {when:%Y-%m-%d})" if when else ""
        print(f"{printable(str(result.path))}: already imported{since}; nothing changed")
        return
    print(f"{printable(str(result.path))}: {kind.title} [{kind.key}], import #{result.import_id}")
    if extract.recognition:
        print(f"  recognised as {kind.key}: {extract.recognition}")
    print(f"  rows: {len(extract.raw)}, parties: {len(extract.parties)}, "
          f"documents: {len(extract.documents)}")
    print(f"  recognised columns ({len(extract.recognised)}): {_captions(extract.recognised)}")
    print(f"  unmapped columns ({len(extract.unmapped)}): {_captions(extract.unmapped) or '-'}")
    print(f"  personal data in: {_captions(extract.personal_columns) or '-'}")


def _captions(columns: list[str]) -> str:
    return ", ".join(printable(c) for c in columns)


def cmd_import(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    if args.system and args.source:
        raise WorkbenchError("--system and --source exclude each other: --source names a known "
                             "service, --system another system")
    if args.system:
        generic.check_name(args.system)
        if not _system_confirmed(workspace, args.system, [Path(f) for f in args.files]):
            return PROPOSED_EXIT
    source = f"{SYSTEM_PREFIX}{args.system}" if args.system else args.source
    with tqdm(total=len(args.files), desc="read", unit="file", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        done = {"rows": 0}

        def progress(path: Path, rows: int) -> None:
            done["rows"] += rows
            bar.set_postfix_str(f"{done['rows']:,} rows", refresh=False)
            bar.update(1)

        paths = [Path(f) for f in args.files]
        results, mailboxes = pipeline.import_exports(workspace, paths, source, progress)
    for result in results:
        _print_import(result)
    for mailbox in mailboxes:
        _print_mail(mailbox)
    return 0


def _print_mail(result: mail.MailImport) -> None:
    if result.import_id is None:
        print(f"{printable(str(result.path))}: already imported (import #{result.previous['import_id']}); "
              "nothing changed")
        return
    print(f"{printable(str(result.path))}: {result.kind} [{mail.SERVICE}], import #{result.import_id}")
    print(f"  messages: {result.messages}, attachments: {result.attachments}")


PROPOSED_EXIT = 3  # nothing imported: a mapping of another system awaits the analyst


def _system_confirmed(workspace: Workspace, system: str, paths: list[Path]) -> bool:
    """Whether the system's mapping is confirmed; if not, propose one (stored in
    ``mappings.toml`` unless a proposal is there already) and show it."""
    status, matches = pipeline.mapping_proposal(workspace, system, paths)
    if status == pipeline.CONFIRMED:
        return True
    if status == pipeline.PROPOSED_NOW:
        print(f"proposed mapping of system {system} (stored in {workspace.mappings}):")
    else:
        print(f"system {system} has a proposed mapping in {workspace.mappings}, kept as it is "
              "(delete the section to propose again); what the columns look like:")
    for m in matches:
        field = m.field or "(unmapped)"
        print(f"  {printable(m.column)!s} -> {field}: {m.how}, confidence {m.confidence:.2f}")
    print(f"nothing imported: check the proposal (edit [system.{system}.columns] in "
          f"{workspace.mappings} if needed), then run 'workbench mapping confirm --system "
          f"{system}' and import again", file=sys.stderr)
    return False


def cmd_mapping(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    generic.check_name(args.system)
    if args.action == "confirm":
        confirm_system(workspace.mappings, args.system)
        print(f"mapping of system {args.system} confirmed; 'workbench import --system "
              f"{args.system} FILE' now imports with it")
        return 0
    stored = systems(workspace.mappings).get(args.system)
    if stored is None:
        raise WorkbenchError(f"{workspace.mappings}: no mapping of system {args.system}; run "
                             f"'workbench import --system {args.system} FILE' to propose one")
    print(f"system {args.system}: {stored.status}")
    for field, captions in stored.columns.items():
        print(f"  {field}: {_captions(captions)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    table = workspace.status()
    if table.empty:
        print(f"{workspace.path}: nothing imported yet")
        return 0
    print(f"workspace {workspace.path}")
    for (service, kind), group in table.groupby(["service", "export_kind"], sort=True):
        print(f"{service}/{kind}: {group['export_title'].iloc[0]}")
        for row in group.itertuples():
            print(f"  #{row.import_id} {row.imported_at:%Y-%m-%d %H:%M} sha256 {row.file_sha256} "
                  f"{row.file_name}: {row.rows} rows, {row.parties} parties, "
                  f"{row.documents} documents")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    done = pipeline.run_demo(Path(args.out), Workspace(args.workspace), Path(args.reports),
                             seed=args.seed, clients=args.clients, register_dir=args.register)
    print(f"wrote {len(done.imported)} demo exports to {args.out}")
    for result in done.imported:
        _print_import(result)
    _print_link(done.linked)
    print(f"data map: {done.datamap[0]} (and {len(done.datamap) - 1} CSV files in "
          f"{done.datamap[1].parent})")
    if done.request:
        print(f"demo access request {done.request.request['id']}: package in "
              f"{done.request.package.out} ({len(done.request.package.files)} files)")
    for request_id, kind, path in done.story:
        print(f"  {request_id}: {kind} letter sent ({path})")
    if done.annual:
        print(f"annual compliance report: {done.annual[1]} and its PDF, tables as CSV in "
              f"{done.annual[0].parent}")
    return 0


def _print_link(report: linkage.LinkReport) -> None:
    print(report.summary())


def cmd_link(args: argparse.Namespace) -> int:
    _print_link(linkage.link(Workspace(args.workspace), threshold=args.threshold))
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    query = {k: getattr(args, k) for k in ("email", "name", "iban", "phone", "customer_id")
             if getattr(args, k)}
    if not query:
        raise WorkbenchError("say what to look for: --email, --name, --iban, --phone or --customer-id")
    candidates = linkage.find(workspace, **query)
    unlinked = linkage.imports_since_link(workspace)
    if unlinked:
        print(f"workbench: {unlinked} import(s) came after the last link and are not searched; run "
              "'workbench link' to include them", file=sys.stderr)
    if candidates.empty:
        print("no subject found")
        return 0
    print(candidates.to_string(index=False, na_rep=""))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from workbench.datamap import export

    workspace = Workspace(args.workspace)
    cells = export.subject_map(workspace, register.load(args.register), args.subject)
    if cells.empty:
        raise WorkbenchError(f"subject {args.subject!r} is unknown; find it with 'workbench find'")
    columns = ["column", "value", "category", "file_name", "source_row"]
    for (service, kind), group in cells.groupby(["service", "export_kind"], sort=False):
        first = group.iloc[0]
        print(f"== {service}/{kind}: processor {first.processor}; purpose: {first.purpose}; "
              f"legal basis: {first.legal_basis}")
        print(group[columns + ["retention"]].to_string(index=False, na_rep=""))
    if mail.imported(workspace):
        found = mail.subject_messages(workspace, [args.subject])
        print(f"== mail: {len(found)} messages from, to or naming the subject")
        if not found.empty:
            print(found[["date", "from", "to", "subject", "evidence"]].to_string(index=False, na_rep=""))
    return 0


def cmd_datamap(args: argparse.Namespace) -> int:
    from workbench.datamap import export

    reg = register.load(args.register)
    today = _today(args)
    written = export.write(Workspace(args.workspace), reg, Path(args.out), year=args.year, today=today,
                            pdf=not args.no_pdf)
    for path in written:
        print(path)
    for gap in export.review_gaps(reg):
        print(f"gap: {gap}")
    return 0


def _today(args: argparse.Namespace):
    return requests.parse_date(args.today, "--today") if args.today else None


def cmd_request_new(args: argparse.Namespace) -> int:
    created = requests.new(Workspace(args.workspace), type=args.type, email=args.email, name=args.name,
                           received=args.received, channel=args.channel, today=_today(args))
    dates = created.dates
    print(f"{created.request_id} due {dates.due}")
    print(f"  law (Art. 12(3), one calendar month): {dates.law}; policy (30 days): {dates.policy}")
    if created.duplicate_of:
        print(f"  possible duplicate of {created.duplicate_of} (same e-mail address within "
              f"{requests.DUPLICATE_DAYS} days)")
    return 0


def cmd_request_list(args: argparse.Namespace) -> int:
    table = requests.listing(Workspace(args.workspace), _today(args), include_closed=args.all)
    if table.empty:
        print("no open requests" if not args.all else "no requests")
        return 0
    table = table.assign(days_left=table["days_left"].map(lambda d: "" if d is None or d != d else int(d)))
    print(table.to_string(index=False))
    return 0


def cmd_request_show(args: argparse.Namespace) -> int:
    row, events, notes = requests.show(Workspace(args.workspace), args.id)
    for key, value in row.items():
        if key in ("email_hmac", "name_hmac") and value:
            value = value[:16] + "..."
        print(f"{key:>17}: {'' if value is None else value}")
    print(f"{'binding due date':>17}: {requests.current_due(row)}")
    print("history:")
    for event in events.itertuples():
        print(f"  {event.recorded_at:%Y-%m-%d %H:%M} {event.action} {event.detail}")
    if not notes.empty:
        print("notes:")
        for note in notes.itertuples():
            print(f"  {note.written_at:%Y-%m-%d %H:%M} {note.note}")
    return 0


def cmd_request_update(args: argparse.Namespace) -> int:
    done = requests.update(
        Workspace(args.workspace), args.id, status=args.status, responded=args.responded,
        outcome=args.outcome, verify=args.verify, verified=args.verified,
        extend_reason=args.extend_reason, told=args.told, extend_months=args.extend_months,
        refuse_reason=args.refuse_reason, note=args.note, today=_today(args))
    for line in done:
        print(f"{args.id}: {line}")
    return 0


def cmd_request_purge(args: argparse.Namespace) -> int:
    ids = requests.purge_expired(Workspace(args.workspace), _today(args))
    print(f"deleted {len(ids)} request(s) closed more than {requests.RETENTION_YEARS} years ago"
          + (f": {', '.join(ids)}" if ids else ""))
    return 0


def _print_done(request_id: str, done: list[str]) -> int:
    for line in done:
        print(f"{request_id}: {line}")
    return 0


def cmd_request_verify(args: argparse.Namespace) -> int:
    return _print_done(args.id, requests.verify(Workspace(args.workspace), args.id, method=args.method,
                                                outcome=args.outcome, on=args.on, today=_today(args)))


def cmd_request_extend(args: argparse.Namespace) -> int:
    return _print_done(args.id, requests.extend(Workspace(args.workspace), args.id, reason=args.reason,
                                                told=args.told, months=args.months, today=_today(args)))


def cmd_request_close(args: argparse.Namespace) -> int:
    return _print_done(args.id, requests.close(Workspace(args.workspace), args.id, outcome=args.outcome,
                                               responded=args.responded, today=_today(args)))


def cmd_request_refuse(args: argparse.Namespace) -> int:
    return _print_done(args.id, requests.refuse(Workspace(args.workspace), args.id, reason=args.reason,
                                                responded=args.responded, today=_today(args)))


def cmd_request_note(args: argparse.Namespace) -> int:
    return _print_done(args.id, requests.note(Workspace(args.workspace), args.id, args.text,
                                              today=_today(args)))


def cmd_request_search(args: argparse.Namespace) -> int:
    reg = register.load(args.register)
    if args.system not in reg.systems:
        raise WorkbenchError(f"system {args.system!r} is not in the register; one of "
                             f"{', '.join(reg.systems)}")
    found = requests.record_search(Workspace(args.workspace), args.request, system=args.system,
                                   result=args.result, on=args.on, today=_today(args), query=args.query)
    print(f"{args.request}: search of {reg.systems[args.system].name} recorded: {found}")
    return 0


def cmd_request_letter(args: argparse.Namespace) -> int:
    from workbench.rights import answers

    details = {k: v for k, v in {
        "questions": args.question, "identity": args.identity or None, "reasons": args.reason,
        "grounds": args.ground, "explanation": args.explanation, "partial": args.partial or None,
        "granted": args.granted, "refused": args.refused, "changes": args.change, "stopped": args.stopped,
        "lift_on": args.lift_on, "recipient": args.recipient, "action": args.action, "client": args.client,
    }.items() if v}
    written = answers.write_letter(Workspace(args.workspace), register.load(args.register), args.request,
                                   args.kind, Path(args.out), subjects=args.subject, lang=args.lang,
                                   draft=args.draft, today=_today(args), **details)
    print(f"{args.kind} letter{' (draft)' if args.draft else ''} for {args.request}: "
          + ", ".join(str(p) for p in written.files))
    for gap in written.gaps:
        print(f"  gap: {gap}")
    return 0


def cmd_request_send(args: argparse.Namespace) -> int:
    return _print_done(args.request, letters.send(Workspace(args.workspace), register.load(args.register),
                                                  args.request, Path(args.letter),
                                                  refuse_reason=args.refuse_reason, today=_today(args)))


def _add_request_actions(sub, today: dict) -> None:
    """One command per operation of the request's state machine (requests.TRANSITIONS)."""
    ver = sub.add_parser("verify", help="record the identity check (the AP's step 4)")
    ver.add_argument("id")
    ver.add_argument("--method", required=True, choices=requests.VERIFY_METHODS)
    ver.add_argument("--outcome", required=True, choices=requests.VERIFY_OUTCOMES)
    ver.add_argument("--on", help="date of the check, YYYY-MM-DD (default: today)")
    ver.set_defaults(run=cmd_request_verify)
    ext = sub.add_parser("extend", help="extend the deadline (Art. 12(3)); then send the extension letter")
    ext.add_argument("id")
    ext.add_argument("--reason", required=True, help="why: the complexity or the number of requests")
    ext.add_argument("--told", required=True, help="date the requester is told, YYYY-MM-DD")
    ext.add_argument("--months", type=int, choices=(1, 2), default=2)
    clo = sub.add_parser("close", help="complete a verified request")
    clo.add_argument("id")
    clo.add_argument("--outcome", choices=requests.OUTCOMES, default="granted")
    clo.add_argument("--responded", help="date the answer went out (default: today)")
    ref = sub.add_parser("refuse", help="refuse a request with its justification")
    ref.add_argument("id")
    ref.add_argument("--reason", required=True)
    ref.add_argument("--responded", help="date the refusal went out (default: today)")
    nte = sub.add_parser("note", help="a note on an open request")
    nte.add_argument("id")
    nte.add_argument("text")
    for parser, run in ((ext, cmd_request_extend), (clo, cmd_request_close), (ref, cmd_request_refuse),
                        (nte, cmd_request_note), (ver, cmd_request_verify)):
        parser.add_argument("--today", **today)
        parser.set_defaults(run=run)
    _add_request_search(sub, today)
    _add_request_letter(sub, today)
    _add_request_send(sub, today)


def _add_request_search(sub, today: dict) -> None:
    sea = sub.add_parser("search", help="record the search of one system for a request, with its result "
                         "(a system without an export is searched by hand)")
    sea.add_argument("--request", required=True)
    sea.add_argument("--system", required=True, help="the system's key in the register (mail, hosting, ...)")
    sea.add_argument("--result", required=True,
                     help="'niets gevonden' / 'nothing found' or 'gevonden' / 'found'")
    sea.add_argument("--on", help="date of the search (default: today)")
    sea.add_argument("--query", default="", help="what was searched with, without the person's data "
                     "(e.g. 'e-mail address and name in all folders')")
    sea.add_argument("--today", **today)
    sea.set_defaults(run=cmd_request_search)


def _add_request_letter(sub, today: dict) -> None:
    let = sub.add_parser("letter", help="write a letter for a request (HTML and PDF), registered on it; "
                         "final only when the gates pass, else --draft")
    let.add_argument("--request", required=True)
    let.add_argument("--kind", required=True,
                     choices=[k for k in letters.KINDS if k not in ("access", "portability")])
    let.add_argument("--out", required=True, help="folder for the letter")
    let.add_argument("--lang", choices=letters.LANGUAGES, default="nl")
    let.add_argument("--draft", action="store_true", help="a watermarked draft, without the gates")
    let.add_argument("--subject", action="append", help="subject id (erasure) when the e-mail address "
                     "alone does not say who it is")
    for flag, text in (("--question", "clarification: a question (repeatable)"),
                       ("--reason", "extension, restriction_lift: a reason (repeatable)"),
                       ("--ground", f"refusal: one of {', '.join(letters.REFUSAL_GROUNDS)} (repeatable)"),
                       ("--granted", "partial refusal: what is done (repeatable)"),
                       ("--refused", "partial refusal: what is not done (repeatable)"),
                       ("--change", "rectification: what was changed (repeatable)"),
                       ("--stopped", "objection: activity key stopped (repeatable)"),
                       ("--client", "recipient_notice: a line saying which client (repeatable)")):
        let.add_argument(flag, action="append", help=text)
    let.add_argument("--identity", action="store_true", help="clarification: ask for identification")
    let.add_argument("--explanation", help="refusal: the explanation in the letter's language")
    let.add_argument("--partial", action="store_true", help="refusal: only part of the request is refused")
    let.add_argument("--lift-on", dest="lift_on", help="restriction_lift: the date it is lifted")
    let.add_argument("--recipient", help="recipient_notice: the processor's key in the register")
    let.add_argument("--action", choices=letters.RECIPIENT_ACTIONS, help="recipient_notice: what was done")
    let.add_argument("--today", **today)
    let.set_defaults(run=cmd_request_letter)


def _add_request_send(sub, today: dict) -> None:
    snd = sub.add_parser("send", help="mark a letter (its HTML file or package folder) as sent after the "
                         "gates; "
                         "an answer closes the request on the letter's date")
    snd.add_argument("--request", required=True)
    snd.add_argument("--letter", required=True, help="the letter's .html file, or the package folder")
    snd.add_argument("--refuse-reason", help="refusal: the justification for the register (default: the "
                     "letter's grounds)")
    snd.add_argument("--today", **today)
    snd.set_defaults(run=cmd_request_send)


def cmd_redact(args: argparse.Namespace) -> int:
    from workbench.rights import package

    folder = Path(args.package)
    if args.table is None:
        pending = package.redaction_todo(folder)
        print(f"{len(pending)} cell(s) of {folder} still to redact or keep")
        for item in pending:
            print(f"  {item['table']} row {item['row']} column {item['column']}: {item['reason']}")
        return 0
    if args.row is None or args.column is None or not args.reason:
        raise WorkbenchError("give --table, --row, --column and --reason together")
    if args.keep:
        package.keep(folder, args.table, args.row, args.column, args.reason)
    else:
        package.redact(folder, args.table, args.row, args.column, args.reason)
    print(f"{'kept' if args.keep else 'redacted'}: {args.table} row {args.row} column {args.column}; "
          f"{len(package.redaction_todo(folder))} left")
    return 0


def _add_redact_command(commands) -> None:
    red = commands.add_parser("redact", help="third-party data in a package (Art. 15(4)): without --table "
                              "list what is left; else redact a cell, or --keep it, with a reason (logged "
                              "in the package's redaction log)")
    red.add_argument("--package", required=True, help="the package folder")
    red.add_argument("--table", help="table as listed in redactions_todo.csv: SERVICE/KIND")
    red.add_argument("--row", type=int, help="row from 1")
    red.add_argument("--column")
    red.add_argument("--reason")
    red.add_argument("--keep", action="store_true", help="the cell is the client's own data: keep it")
    red.set_defaults(run=cmd_redact)


def _add_request_commands(commands) -> None:
    req = commands.add_parser("request", help="the register of GDPR requests (Art. 12 deadlines)")
    sub = req.add_subparsers(dest="request_command", required=True)
    today = {"help": "the date to count from (default: today), YYYY-MM-DD"}

    new = sub.add_parser("new", help="register a request; prints its id and due date")
    new.add_argument("--type", required=True, choices=requests.TYPES)
    new.add_argument("--email", required=True, help="the requester's e-mail address")
    new.add_argument("--name", help="the requester's name")
    new.add_argument("--received", help="date received, YYYY-MM-DD (default: today)")
    new.add_argument("--channel", default="email", choices=requests.CHANNELS)
    new.add_argument("--today", **today)
    new.set_defaults(run=cmd_request_new)

    lst = sub.add_parser("list", help="open requests with days left; overdue ones flagged")
    lst.add_argument("--today", **today)
    lst.add_argument("--all", action="store_true", help="closed requests too")
    lst.set_defaults(run=cmd_request_list)

    shw = sub.add_parser("show", help="one request with its history and notes")
    shw.add_argument("id")
    shw.set_defaults(run=cmd_request_show)

    upd = sub.add_parser("update", help="verify, extend, progress, complete or refuse a request")
    upd.add_argument("id")
    upd.add_argument("--status", choices=[s for s in requests.STATUSES if s != "extended"])
    upd.add_argument("--responded", help="date the answer went out, YYYY-MM-DD (default: today)")
    upd.add_argument("--outcome", choices=requests.OUTCOMES, help="what a completed request did")
    upd.add_argument("--verify", metavar="METHOD:OUTCOME",
                     help=f"identity check; METHOD {'|'.join(requests.VERIFY_METHODS)}, "
                          f"OUTCOME {'|'.join(requests.VERIFY_OUTCOMES)}")
    upd.add_argument("--verified", help="date of the identity check, YYYY-MM-DD (default: today)")
    upd.add_argument("--extend-reason", help="why the deadline is extended (Art. 12(3))")
    upd.add_argument("--told", help="date the requester was told of the extension, YYYY-MM-DD")
    upd.add_argument("--extend-months", type=int, choices=(1, 2),
                     help="months to extend by (default 2; at most 2 in all)")
    upd.add_argument("--refuse-reason", help="justification of a refusal (Art. 12(5)); sets refused")
    upd.add_argument("--note", help="a note (deleted when an erasure request is completed)")
    upd.add_argument("--today", **today)
    upd.set_defaults(run=cmd_request_update)

    prg = sub.add_parser("purge", help=f"delete requests closed more than {requests.RETENTION_YEARS} "
                         "years ago (retention of the log)")
    prg.add_argument("--today", **today)
    prg.set_defaults(run=cmd_request_purge)
    _add_request_actions(sub, today)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    parser.add_argument("--workspace", help="workspace directory (default: $WORKBENCH_HOME or "
                        "./workspace)")
    parser.add_argument("--register", type=Path, help="folder with another register of processing "
                        "(default: the one shipped in workbench/config/register)")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_import_commands(commands)
    _add_subject_commands(commands)
    _add_request_commands(commands)
    _add_package_command(commands)
    _add_redact_command(commands)
    _add_rights_commands(commands)
    _add_dashboard_command(commands)
    _add_report_commands(commands)
    _add_audit_commands(commands)
    return parser


def _add_import_commands(commands) -> None:
    imp = commands.add_parser("import", help="import the exports of the source systems "
                              "(recognised by their content)")
    imp.add_argument("files", nargs="+", help="exported files")
    imp.add_argument("--source", help="SERVICE or SERVICE/KIND, when detection needs help")
    imp.add_argument("--system", help="NAME of another system (webshop, CRM, ...): the first "
                     "import proposes a column mapping, imported once confirmed")
    imp.set_defaults(run=cmd_import)

    mapping = commands.add_parser("mapping", help="show or confirm the column mapping of another "
                                  "system's exports")
    mapping.add_argument("action", choices=["show", "confirm"])
    mapping.add_argument("--system", required=True, help="the system's NAME")
    mapping.set_defaults(run=cmd_mapping)

    status = commands.add_parser("status", help="what is imported")
    status.set_defaults(run=cmd_status)


def _add_subject_commands(commands) -> None:
    link = commands.add_parser("link", help="link the parties of all systems into subjects")
    link.add_argument("--threshold", type=float, default=0.95,
                      help="match probability a link needs; lower ones go to the analyst")
    link.set_defaults(run=cmd_link)

    find = commands.add_parser("find", help="candidate subjects with the evidence per candidate")
    for name in ("email", "name", "iban", "phone"):
        find.add_argument(f"--{name}")
    find.add_argument("--customer-id", dest="customer_id")
    find.set_defaults(run=cmd_find)

    show = commands.add_parser("show", help="every record and field of one subject")
    show.add_argument("subject", help="subject id, as 'workbench find' prints it")
    show.set_defaults(run=cmd_show)

    dm = commands.add_parser("datamap", help="write the record of processing and the inventory")
    dm.add_argument("--out", default="reports/datamap.xlsx", help="the XLSX to write (CSV files "
                    "go in a folder beside it; ropa-<year>.html and .pdf beside it)")
    dm.add_argument("--year", type=int, help="the year of the dated record (default: this year)")
    dm.add_argument("--today", help="YYYY-MM-DD: the date the record is drawn up on (default: today)")
    dm.add_argument("--no-pdf", action="store_true", help="write the record as HTML only")
    dm.set_defaults(run=cmd_datamap)

    demo = commands.add_parser("demo", help="write the demo business's exports, import and map them")
    demo.add_argument("--out", default="data/demo", help="where to write the demo exports")
    demo.add_argument("--reports", default="reports", help="where to write the data map")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--clients", type=int, default=300)
    demo.set_defaults(run=cmd_demo)


def _add_package_command(commands) -> None:
    pkg = commands.add_parser("package", help="write a subject access or portability package")
    who = pkg.add_mutually_exclusive_group(required=True)
    who.add_argument("--request", help="request id from 'workbench request new'")
    who.add_argument("--email", help="ad-hoc package for the subject with this e-mail address")
    pkg.add_argument("--subject", action="append", help="subject id to include (repeatable) "
                     "when the e-mail address alone does not say who it is")
    pkg.add_argument("--out", required=True, help="new folder for the package")
    pkg.add_argument("--zip", action="store_true", help="also write DIR.zip")
    pkg.add_argument("--encrypt", action="store_true", help="AES-256 zip with a one-time passphrase")
    pkg.add_argument("--lang", choices=["nl", "en"], default="nl")
    pkg.add_argument("--portability", action="store_true", help="ad-hoc Art. 20 package: only "
                     "provided data under consent or contract (a request's type decides otherwise)")
    pkg.add_argument("--draft", action="store_true", help="a watermarked draft, without the gates "
                     "(an ad-hoc package is always a draft)")
    pkg.add_argument("--ga-client-id", help="the requester's client id in the website analytics: the "
                     "value of the _ga cookie (GA1.1.123.456) or its last two parts (123.456)")
    pkg.add_argument("--ga-user-id", help="the user id the website sent to its analytics for them")
    pkg.set_defaults(run=cmd_package)


def _add_audit_commands(commands) -> None:
    audit_cmd = commands.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the audit log for tampering").set_defaults(
        run=cmd_audit_verify)
    pol = audit_sub.add_parser("policy", help="check the privacy policy's claims against the data, the "
                               "register and the law; writes findings as HTML, CSV and JSON")
    pol.add_argument("--policy", type=Path, help="the privacy policy's text (Markdown or plain text); "
                     "without it the checks that search the text report 'not checkable'")
    pol.add_argument("--claims", type=Path, help="the claims file (default: the one shipped in "
                     "workbench/config/policy/claims.toml)")
    pol.add_argument("--out", type=Path, default=Path("reports/policy-audit"), help="folder for the findings")
    pol.add_argument("--today", help="YYYY-MM-DD: the date record ages and open requests are measured at")
    pol.set_defaults(run=cmd_audit_policy)


def cmd_package(args: argparse.Namespace) -> int:
    from workbench.rights import answers

    workspace, reg = Workspace(args.workspace), register.load(args.register)
    analytics = {k: v for k, v in (("ga_client_id", args.ga_client_id), ("ga_user_id", args.ga_user_id)) if v}
    if args.request:
        result = answers.answer_request(
            workspace, reg, out=Path(args.out), request_id=args.request, subjects=args.subject,
            lang=args.lang, zip=args.zip, encrypt=args.encrypt, draft=args.draft, analytics=analytics).package
    else:  # ad hoc: not in the request register
        result = answers.draft_package(workspace, reg, email=args.email, out=Path(args.out),
                                       subjects=args.subject, lang=args.lang, portability=args.portability,
                                       zip=args.zip, encrypt=args.encrypt, analytics=analytics)
    print(f"package {result.request_id} written to {result.out} ({len(result.files)} files)")
    for system in result.systems:
        detail = ", ".join(f"{t}: {n}" for t, n in system.records.items()) or system.reason
        print(f"  {system.name}: {system.status}{f' ({detail})' if detail else ''}")
    for warning in result.warnings:
        print(f"  check: {warning}")
    if result.zip_path and args.encrypt:
        print(f"archive: {result.zip_path} (encrypted; no plain copy was kept)")
    elif result.zip_path:
        print(f"archive: {result.zip_path}")
    if result.passphrase:
        print(f"passphrase (shown once, not stored): {result.passphrase}")
    return 0


def _print_noted(request_id: str, noted: bool) -> None:
    if noted:
        print(f"  recorded in the history of {request_id}")
    else:
        print(f"  (request {request_id} is closed; nothing added to its history)")


def cmd_erasure_plan(args: argparse.Namespace) -> int:
    from workbench.rights import answers

    if args.execute and not args.yes:
        raise WorkbenchError("--execute removes the subject's records from the workspace (retained ones "
                             "stay, held): look at the plan first, then add --yes to confirm")
    done = answers.erase(Workspace(args.workspace), register.load(args.register), args.request,
                         subjects=args.subject, today=_today(args), out=args.out, execute=args.execute)
    if done.plan is not None:
        print(f"erasure plan for {args.request}: {len(done.subjects)} subject(s) "
              f"({', '.join(f'{a} {n}' for a, n in erasure.summary(done.plan).items())})")
        print("the workbench changes no source system: the steps are for the analyst")
        print(erasure.format_plan(done.plan))
        if done.written:
            print(f"plan written to {done.written}")
    if done.purge is not None:
        for line in done.purge.lines():
            print(line)
    if done.plan is not None and done.purge is not None:
        _print_noted(args.request, done.noted)
    return 0


def cmd_rights_todo(args: argparse.Namespace) -> int:
    from workbench.rights import answers

    todo = answers.rights_todo(Workspace(args.workspace), register.load(args.register), args.request,
                               subjects=args.subject, out=args.out)
    print(f"{todo.type} to-do list for {args.request}: {len(todo.subjects)} subject(s)")
    print("the workbench changes no source system: the steps are for the analyst")
    print(erasure.format_todo(todo.steps))
    if todo.written:
        print(f"to-do list written to {todo.written}")
    _print_noted(args.request, todo.noted)
    return 0


def _add_rights_commands(commands) -> None:
    plan = commands.add_parser("erasure-plan", help="per system and record: delete, retain until a date "
                               "or anonymise, with the analyst's step; --execute --yes purges the workspace")
    plan.add_argument("--request", required=True, help="erasure request id from 'workbench request new'")
    plan.add_argument("--subject", action="append", help="subject id (repeatable) when the e-mail "
                      "address alone does not say who it is")
    plan.add_argument("--out", help="also write the plan as CSV (owner-only)")
    plan.add_argument("--today", help="the date to count from (default: today), YYYY-MM-DD")
    plan.add_argument("--execute", action="store_true", help="carry the plan out in the workspace: "
                      "remove what need not be kept, hold the rest (needs --yes)")
    plan.add_argument("--yes", action="store_true", help="confirm --execute")
    plan.set_defaults(run=cmd_erasure_plan)

    todo = commands.add_parser("rights-todo", help="per-system to-do list for a rectification, "
                               "restriction or objection request; recorded in the request's history")
    todo.add_argument("--request", required=True, help="request id from 'workbench request new'")
    todo.add_argument("--subject", action="append", help="subject id (repeatable)")
    todo.add_argument("--out", help="also write the list as CSV (owner-only)")
    todo.set_defaults(run=cmd_rights_todo)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    if workspace.exists and os.access(workspace.path, os.W_OK):
        try:  # a writer's open first finishes what a killed process left (an erasure, say)
            with workspace.connect():
                pass
        except StorageError:
            pass  # read-only or busy: verify what is there
    result = trail.verify(workspace)
    print(result)
    return 0 if result.ok else 1


def cmd_audit_policy(args: argparse.Namespace) -> int:
    from workbench.audit import policy_audit

    findings = policy_audit.run(Workspace(args.workspace), register.load(args.register),
                                claims=args.claims, policy=args.policy, today=_today(args))
    counts = policy_audit.summary(findings)
    for finding in findings:
        if finding.verdict != policy_audit.HOLDS:
            label = finding.severity or finding.reason
            print(f"{finding.verdict:<14} {finding.claim_id}: {finding.evidence[:160]} ({label})")
    print(f"{counts['fails']} fail, {counts['holds']} hold, {counts['not_checkable']} not checkable")
    for path in policy_audit.write(findings, args.out):
        print(path)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboards with ``panel serve`` on 127.0.0.1 only, in this process."""
    from importlib.util import find_spec

    from panel.command import main as panel_main

    from workbench.ui import dashboard

    workspace = Workspace(args.workspace)
    if not workspace.exists:
        raise WorkbenchError(f"{workspace.path}: nothing imported yet; run 'workbench import' or "
                             "'workbench demo'")
    os.environ["WORKBENCH_DASHBOARD_WORKSPACE"] = str(workspace.path.resolve())
    if args.register:
        os.environ["WORKBENCH_DASHBOARD_REGISTER"] = str(Path(args.register).resolve())
    if args.reports:
        os.environ["WORKBENCH_DASHBOARD_REPORTS"] = str(Path(args.reports).resolve())
    app = Path(find_spec("workbench.ui.dashboard_app").origin)  # not imported: it builds the page
    users, password = dashboard.login_file()
    # Panel's own login page; the password file and the cookie secret stay off the command line,
    # where any local account could read them (ps)
    os.environ["PANEL_COOKIE_SECRET"] = secrets.token_urlsafe(32)
    print(f"dashboards of {workspace.path} at http://127.0.0.1:{args.port}/{app.stem}", flush=True)
    print(f"log in as '{dashboard.LOGIN_USER}' with the password {password} (made for this run, "
          "stored nowhere else)", flush=True)
    sys.argv = ["panel", "serve", str(app), "--address", "127.0.0.1", "--port", str(args.port),
                "--allow-websocket-origin", f"127.0.0.1:{args.port}", "--basic-auth", str(users),
                "--basic-login-template", str(dashboard.LOGIN_TEMPLATE)]  # Panel's own loads a CDN logo
    # the caches are warmed once the server listens, not before: it answers its first page at once
    dashboard.warm_when_listening(workspace, register.load(args.register), args.port)
    try:
        panel_main()
    finally:
        shutil.rmtree(users.parent, ignore_errors=True)
    return 0


def _add_dashboard_command(commands) -> None:
    dash = commands.add_parser("dashboard", help="serve the Panel dashboards on 127.0.0.1 (flows, "
                               "client explorer, request tracker, inventory)")
    dash.add_argument("--port", type=int, default=5006, help="port on 127.0.0.1 (default: 5006)")
    dash.add_argument("--reports", help="where packages written from the dashboard go (default: "
                      "reports/ beside the workspace)")
    dash.set_defaults(run=cmd_dashboard)


def _add_report_commands(commands) -> None:
    rep = commands.add_parser("report", help="the DPIA-style report and the annual compliance report")
    sub = rep.add_subparsers(dest="report_command", required=True)
    _add_report_dpia(sub)
    _add_report_annual(sub)


def cmd_report_dpia(args: argparse.Namespace) -> int:
    from workbench.reports import dpia

    assessment = dpia.assess(Workspace(args.workspace), register.load(args.register), activity=args.activity,
                             today=_today(args), policy=args.policy, config=args.config, lang=args.lang)
    for line in assessment.summary:
        print(line)
    for path in dpia.write(assessment, args.out, pdf=not args.no_pdf):
        print(path)
    return 0


def _add_report_dpia(sub) -> None:
    rep = sub.add_parser("dpia", help="the DPIA-style report (CNIL PIA + Model DPIA Rijksdienst) as HTML, "
                         "PDF, CSV and JSON")
    rep.add_argument("--activity", help="assess one processing activity of the register (default: all)")
    rep.add_argument("--policy", type=Path, help="the privacy policy's text, for the policy audit section")
    rep.add_argument("--config", type=Path, help="folder with another firm's DPIA files (default: "
                     "workbench/config/dpia)")
    rep.add_argument("--today", help="YYYY-MM-DD: the date record ages, requests and actions are measured at")
    rep.add_argument("--lang", choices=["nl", "en"], help="the report's language (default: the assessment's "
                     "`language`, Dutch for this firm)")
    rep.add_argument("--no-pdf", action="store_true", help="write no PDF")
    rep.add_argument("--out", type=Path, required=True, help="folder for the report")
    rep.set_defaults(run=cmd_report_dpia)


def cmd_report_annual(args: argparse.Namespace) -> int:
    from workbench.reports import render

    workspace = Workspace(args.workspace)
    if not workspace.exists:
        raise WorkbenchError(f"{workspace.path}: nothing imported yet; run 'workbench import' or "
                             "'workbench demo'")
    written = render.annual_report(workspace.path, args.year, args.out, register_dir=args.register,
                                   policy=args.policy, today=_today(args), pdf=not args.no_pdf,
                                   previous=args.previous)
    print(f"annual compliance report {args.year}: {len(written)} files in {args.out}")
    for path in written:
        if path.suffix in (".html", ".pdf"):
            print(f"  {path}")
    return 0


def _add_report_annual(sub) -> None:
    ann = sub.add_parser("annual", help="the annual compliance report (HTML and PDF, code hidden)")
    ann.add_argument("--year", type=int, required=True, help="the year the report covers")
    ann.add_argument("--out", type=Path, required=True, help="folder for the report and its tables")
    ann.add_argument("--policy", type=Path, help="the privacy policy's text, for the policy audit section")
    ann.add_argument("--today", help="YYYY-MM-DD: the date open requests and retention are measured at")
    ann.add_argument("--previous", type=Path, help="an earlier year's report folder: diff the inventory "
                     "against its inventory.csv")
    ann.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    ann.set_defaults(run=cmd_report_annual)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (head, less) stopped reading: not an error
        sys.stderr.close()
        return 0
    except (OSError, duckdb.Error) as exc:  # a full or read-only disk, named; anything else is a bug
        clear = storage_problem(exc, Path(getattr(exc, "filename", None) or default_path(args.workspace)))
        if clear is None:
            return _internal(exc)
        print(f"workbench: {clear}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted (an import leaves the workspace as it was; a package or "
              "report folder may be incomplete: write it again into a new folder)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so without dumping data-laden locals
        return _internal(exc)


def _internal(exc: Exception) -> int:
    if os.environ.get("WORKBENCH_DEBUG"):
        raise exc
    print(f"workbench: internal error ({type(exc).__name__}); "
          "run with WORKBENCH_DEBUG=1 for the traceback", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""The `styletrial` command line: the local stack, its parts, the database, a demo and a quick look."""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from config import ROLES, Settings
from observability.logs import configure_logging

# Alembic, the dev server's helpers and the Temporal client are imported by the commands that use them:
# `trial show` and the reports start in a fraction of the time without them.


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="styletrial", description="Style Trial consignment engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="the whole local stack: Temporal dev server + UI, migrations, worker, API")
    sub.add_parser("worker", help="a worker for an existing Temporal server")
    sub.add_parser("api", help="the HTTP API (needs STYLETRIAL_API_TOKENS)")
    db = sub.add_parser("db", help="the read-model and ledger database")
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply every Alembic migration (idempotent)")
    demo = sub.add_parser("demo", help="start realistic trials and play fulfilment, so the UI shows every status")
    demo.add_argument(
        "--day-seconds", type=float, default=6.0, help="how long a trial 'day' lasts in the demo (default 6 s)"
    )
    report = sub.add_parser("report", help="reports for client relations and buying, from the read model")
    report.add_argument("name", choices=["keep-rate", "return-reasons", "voice", "decision-time", "attention"])
    report.add_argument("--by", help="shopper, region, tier, designer or sku (return-reasons: sku or designer)")
    report.add_argument("--since", type=date.fromisoformat, help="first day trials opened on (default: 30 days ago)")
    report.add_argument("--until", type=date.fromisoformat, help="last day, included (default: today)")
    report.add_argument("--csv", action="store_true", help="CSV instead of a table")
    sub.add_parser(
        "patches", help="per workflow.patched id, the open trials still on its old path (0: it can be retired)"
    )
    check = sub.add_parser(
        "healthcheck", help="exit 0 if URL answers 200 within 4 s (default: this host's API /readyz); for containers"
    )
    check.add_argument("url", nargs="?")
    trial = sub.add_parser("trial", help="look at trials from the terminal")
    trial_sub = trial.add_subparsers(dest="trial_command", required=True)
    show = trial_sub.add_parser("show", help="one trial, from its workflow")
    show.add_argument("order_id")
    show.add_argument("--json", action="store_true", help="the whole trial view as JSON, for scripts")
    lst = trial_sub.add_parser("list", help="trials from the read model, newest first")
    lst.add_argument("--status")
    lst.add_argument("--customer")
    lst.add_argument("--attention", action="store_true", help="only trials that need attention")
    lst.add_argument("--limit", type=int, default=20)
    lst.add_argument("--json", action="store_true", help="the rows as a JSON array, for scripts")
    customer = sub.add_parser("customer", help="a client's whole story, from the read model")
    customer_sub = customer.add_subparsers(dest="customer_command", required=True)
    story = customer_sub.add_parser("show", help="every trial of a client: keep rate, sizes, their words")
    story.add_argument("customer_id")
    story.add_argument("--json", action="store_true", help="the whole story as JSON, for scripts")
    forget = customer_sub.add_parser(
        "forget", help="erase a client's personal data (GDPR Art. 17): now for closed trials, the rest as they close"
    )
    forget.add_argument("customer_id")
    forget.add_argument("--yes", action="store_true", help="erase (without this, only say what would be erased)")
    shopper = sub.add_parser("shopper", help="a personal shopper's open trials, from the read model")
    shopper_sub = shopper.add_subparsers(dest="shopper_command", required=True)
    mine = shopper_sub.add_parser("trials", help="open trials: who has not decided, who needs a nudge (first)")
    mine.add_argument("shopper_id")
    mine.add_argument("--json", action="store_true", help="the list as JSON, for scripts")
    queue = sub.add_parser("attention", help="what trials need staff for, oldest first (the attention queue)")
    queue.add_argument("--assignee", help="one staff member's items")
    queue.add_argument("--reason", help="one kind of reason (carrier_claim, return_lost, ...)")
    queue.add_argument("--limit", type=int, default=50)
    queue.add_argument("--json", action="store_true", help="the items as a JSON array, for scripts")
    recover = trial_sub.add_parser(
        "recover", help="a trial whose workflow task keeps failing: reset it to its last good workflow task"
    )
    recover.add_argument("order_id")
    recover.add_argument("--yes", action="store_true", help="reset it (without this, only say what would be done)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    settings = _settings()
    if args.command == "healthcheck":
        _healthcheck(args.url or f"http://127.0.0.1:{settings.api_port}/readyz")
    serving = args.command in ("dev", "worker", "api")
    # The local stack is read by a person: readable lines, unless STYLETRIAL_LOG_FORMAT says otherwise.
    fmt = "console" if args.command == "dev" and "log_format" not in settings.model_fields_set else settings.log_format
    configure_logging(fmt, getattr(logging, settings.log_level) if serving else logging.WARNING)
    _keep_data_private(settings.data_dir)
    try:
        if args.command == "dev":
            dev(settings)
        elif args.command == "worker":
            _serve(settings, api=False, worker=True)
        elif args.command == "api":
            if not settings.api_tokens:
                _fail("STYLETRIAL_API_TOKENS is not set: give it a JSON object of token -> role.")
            _serve(settings, api=True, worker=False)
        elif args.command == "db":
            from persistence.migrate import upgrade

            upgrade(settings.resolved_database_url)
            print(f"Database at head: {_redacted(settings.resolved_database_url)}")
        elif args.command == "report":
            _report(settings, args.name, args.by, args.since, args.until, args.csv)
        elif args.command == "demo":
            from cli.demo import run_demo

            _client_only(lambda: asyncio.run(run_demo(settings, args.day_seconds)))
        elif args.command == "customer" and args.customer_command == "forget":
            _client_only(lambda: asyncio.run(_forget(settings, args.customer_id, args.yes)))
        elif args.command == "customer":
            _customer(settings, args.customer_id, args.json)
        elif args.command == "shopper":
            _shopper(settings, args.shopper_id, args.json)
        elif args.command == "attention":
            _attention(settings, args.assignee, args.reason, args.limit, args.json)
        elif args.command == "patches":
            _client_only(lambda: asyncio.run(_patches(settings)))
        elif args.trial_command == "show":
            _client_only(lambda: asyncio.run(_show(settings, args.order_id, args.json)))
        elif args.trial_command == "recover":
            _client_only(lambda: asyncio.run(_recover(settings, args.order_id, args.yes)))
        else:
            _list(settings, args.status, args.customer, args.attention, args.limit, args.json)
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or `styletrial trial list | head`
        pass
    except SystemExit:
        raise
    except Exception as err:  # one clear line, not a traceback
        _fail(_explain(err, settings))


REPORT_GROUPS = {
    "keep-rate": ("shopper", "region", "tier", "designer", "sku"), "decision-time": ("shopper", "region", "tier", "designer", "sku"),
    "return-reasons": ("sku", "designer"), "voice": ("designer", "sku"), "attention": (),
}  # fmt: skip


def _report(
    settings: Settings, name: str, by: str | None, since: date | None, until: date | None, as_csv: bool
) -> None:
    """The same reports as the API's /v1/reports/* (application/reports.py), as a table or CSV."""
    import csv
    import dataclasses
    from datetime import UTC, datetime

    from application import reports

    groups = REPORT_GROUPS[name]
    if by is not None and by not in groups:
        _fail(f"--by {by!r}: {name} groups by {', '.join(groups) or 'hub only'}.")
    try:
        days = reports.date_range(since, until, datetime.now(UTC).date())
    except ValueError as err:
        _fail(f"{err} (--since and --until are days, YYYY-MM-DD)")
    start, end = days.start, days.end
    source = reports.Reports.for_database(settings.resolved_database_url)
    if name == "keep-rate":
        rows: list[Any] = source.keep_rate(by or "designer", start, end)  # type: ignore[arg-type]
    elif name == "return-reasons":
        rows = source.return_reasons(by or "designer", start, end)  # type: ignore[arg-type]
    elif name == "decision-time":
        rows = source.decision_time(by or "region", start, end)  # type: ignore[arg-type]
    elif name == "voice":
        rows = source.voice(by or "designer", start, end)  # type: ignore[arg-type]
    else:
        rows = source.attention(start, end)
    table = [_flat(dataclasses.asdict(r)) for r in rows]
    header = list(table[0]) if table else []
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows([row[h] for h in header] for row in table)
        return
    print(f"{name}, trials opened {days.first} to {days.last}" + (f", by {by or 'default'}" if groups else ""))
    if not table:
        print("No trials in that range.")
        return
    widths = [max(len(h), *(len(str(row[h])) for row in table)) for h in header]
    print("  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in table:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A row for a table or CSV: the voice report's reasons and quotes as text in one cell each."""
    if "reasons" in row:
        row["reasons"] = "; ".join(f"{reason} {n}" for reason, n in row["reasons"].items())
        row["quotes"] = " | ".join(f'"{q["words"]}"' + (f" ({q['size']})" if q["size"] else "") for q in row["quotes"])
    return row


def _settings() -> Settings:
    """The settings, or one line per mistake and exit 1: a process never starts on settings that would
    start trials with a broken policy, a role that does not exist, or a URL that is not one."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as err:
        mistakes = [
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        ]
        print("styletrial: the settings are not valid:\n  " + "\n  ".join(mistakes), file=sys.stderr)
        sys.exit(1)


def _healthcheck(url: str) -> None:
    """For a container's HEALTHCHECK: nothing but the standard library, one request, a clear exit status."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            healthy = answer.status == 200
    except (urllib.error.URLError, OSError, ValueError) as err:
        print(f"unhealthy: {url}: {err}", file=sys.stderr)
        sys.exit(1)
    if not healthy:
        print(f"unhealthy: {url} answered {answer.status}", file=sys.stderr)
    sys.exit(0 if healthy else 1)


def _client_only(command: Callable[[], None]) -> None:
    """Run a short command that talks to Temporal, then leave without the interpreter's shutdown.

    The SDK's client runs a Rust runtime whose threads may still hold Python objects when the interpreter
    finalizes; now and then that aborted the process (exit 134, `PyGILState_Release`, temporalio/sdk-python
    issue 300) after the command had done its work. Nothing is left to do at that point but flush what was
    printed, so the process ends there with the command's status."""
    code = 0
    try:
        command()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except (KeyboardInterrupt, BrokenPipeError):
        code = 130
    except Exception as err:
        print(f"styletrial: {_explain(err, Settings())}", file=sys.stderr)
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _keep_data_private(data_dir: Path) -> None:
    """The data folder holds trial history, the read model and the dev codec key: only its owner may read
    it. Every file this process (and the dev server it starts) creates is 0600, folders 0700, and what an
    older version left readable is made private."""
    os.umask(0o077)
    if data_dir.is_dir():
        data_dir.chmod(0o700)
        for path in data_dir.rglob("*"):
            # A running server's SQLite journal may come and go while we walk the folder.
            with contextlib.suppress(FileNotFoundError):
                if not path.is_symlink():
                    path.chmod(0o700 if path.is_dir() else 0o600)


def dev(settings: Settings) -> None:
    from cli.devserver import port_open, start_dev_server
    from persistence.migrate import upgrade

    host, _, port = settings.temporal_address.rpartition(":")
    ports = [
        (host or "127.0.0.1", int(port), "STYLETRIAL_TEMPORAL_ADDRESS", "the Temporal server"),
        ("127.0.0.1", settings.temporal_ui_port, "STYLETRIAL_TEMPORAL_UI_PORT", "the Temporal UI"),
        (settings.api_host, settings.api_port, "STYLETRIAL_API_PORT", "the API"),
    ]
    for where, number, setting, what in ports:
        if port_open(where, number):
            _fail(
                f"port {number} ({what}) is taken: is another `styletrial dev` running? "
                f"Stop it, or choose another port with {setting}."
            )
    if not settings.api_tokens:
        # Fresh tokens each run, printed once: nothing secret is stored in the repository or on disk.
        # A shopper is a person signed in with their own token (who they are is in it): no static token.
        machines = [role for role in ROLES if role != "shopper"]
        settings = settings.model_copy(update={"api_tokens": {secrets.token_urlsafe(18): role for role in machines}})
    if not settings.codec_ui_key:
        # The dev server's UI cannot send an Authorization header to the codec server: give it a key in
        # the path instead, fresh each run.
        settings = settings.model_copy(update={"codec_ui_key": secrets.token_urlsafe(24)})
    print("Applying database migrations ...", flush=True)
    upgrade(settings.resolved_database_url)
    print("Starting the Temporal dev server ...", flush=True)
    codec_endpoint = f"http://{settings.api_host}:{settings.api_port}/codec/{settings.codec_ui_key}"
    server = start_dev_server(
        settings.data_dir,
        int(port),
        settings.temporal_ui_port,
        ["--ui-codec-endpoint", codec_endpoint],
        die_with_parent=True,
    )
    try:
        print(
            f"Temporal UI:     http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
        )
        print(f"API:             http://{settings.api_host}:{settings.api_port}/docs")
        print(f"Temporal server: {settings.temporal_address} (history in {settings.data_dir}/temporal.sqlite)")
        print(f"Read model:      {_redacted(settings.resolved_database_url)}")
        gateway = (
            f"stripe at {settings.stripe_api_base}"
            if settings.payments == "stripe"
            else "simulated (state in the read-model database)"
        )
        print(f"Payments:        {gateway}")
        for token, role in settings.api_tokens.items():
            print(f"Dev token ({role}): {token}")
        print("Ctrl-C stops everything. Try `styletrial demo` in another terminal.", flush=True)
        _serve(settings, api=True, worker=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=_stop_grace())
        except Exception:
            server.kill()


def _serve(settings: Settings, *, api: bool, worker: bool) -> None:
    # The whole stack's imports (Temporal, SQLAlchemy, FastAPI) only for the commands that run it.
    from bootstrap import serve

    asyncio.run(serve(settings, api=api, worker=worker))


def _stop_grace() -> float:
    from bootstrap import STOP_GRACE_SECONDS

    return STOP_GRACE_SECONDS


async def _show(settings: Settings, order_id: str, as_json: bool = False) -> None:
    from application.connection import connect
    from application.trials import TrialService
    from domain.money import format_money

    view = await TrialService(await connect(settings, patience=5), settings.task_queue).view(order_id)
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    print(view.summary())
    if view.needs_attention:
        for reason, text in view.attention.items():
            print(f"  needs attention ({reason}): {text}")
    for label, when in (("trial ends", view.trial_ends_at), ("returns due", view.return_deadline)):
        if when:
            print(f"  {label}: {when:%d %b %Y %H:%M} UTC")
    print(f"  {'piece':<10} {'state':<18} {'decision':<9} {'price':>18}")
    for p in view.pieces:
        print(f"  {p.piece_id:<10} {p.state:<18} {p.decision or '-':<9} {format_money(p.price, view.currency):>18}")
    a = view.amounts
    print(
        f"  authorized {format_money(a.authorized, view.currency)}, charged {format_money(a.charged, view.currency)}, released {format_money(a.released, view.currency)}"
    )


async def _patches(settings: Settings) -> None:
    from application.connection import connect
    from application.patches import patch_use

    uses = await patch_use(await connect(settings, patience=5))
    print(f"{'patch':<30} {'open trials on its old path':>28}  oldest started")
    for use in uses:
        oldest = f"{use.old_path[0][0]:%Y-%m-%d %H:%M} UTC ({use.old_path[0][1]})" if use.old_path else "-"
        print(f"{use.patch:<30} {len(use.old_path):>28}  {oldest}")
    retirable = [u.patch for u in uses if u.retirable]
    print(f"Can be deprecated now (docs/architecture.md, 'Retiring a patch'): {', '.join(retirable) or 'none'}.")


async def _forget(settings: Settings, customer_id: str, really: bool) -> None:
    import getpass

    from application.connection import connect
    from application.door import read_model_at
    from application.erasure import Erasure

    with read_model_at(settings.resolved_database_url) as store:
        if not really:
            trials = store.list_trials(limit=500, customer_id=customer_id).items
            if not trials:
                _fail(f"No trial of client {customer_id!r} in the read model.")
            print(
                f"Would erase client {customer_id}: {len(trials)} trial(s) ({', '.join(t.order_id for t in trials)})."
            )
            print("Run again with --yes to erase (it cannot be undone).")
            return
        client = await connect(settings, patience=5)
        erased = await Erasure(client, store).request(customer_id, f"cli:{getpass.getuser()}")
    if erased is None:
        _fail(f"No trial of client {customer_id!r} in the read model.")
    for t in erased:
        print(f"{t.order_id:<24} {'erased' if t.state == 'erased' else 'waiting: erased when its trial closes'}")


async def _recover(settings: Settings, order_id: str, really: bool) -> None:
    from application.connection import connect
    from application.recovery import diagnose, reset
    from domain.trial import trial_id_for
    from workflows.style_trial import StyleTrialWorkflow

    client = await connect(settings, patience=5)
    history = await client.get_workflow_handle(trial_id_for(order_id)).fetch_history()
    found = await diagnose(history, [StyleTrialWorkflow], client.data_converter)
    print(found.describe())
    if found.reset_to is None:
        return
    if not really:
        print("Run again with --yes to reset it.")
        return
    run_id = await reset(client, found, f"styletrial trial recover: {found.problem} at event {found.bad_event}")
    print(f"Reset: the trial goes on as run {run_id}.")


def _list(
    settings: Settings, status: str | None, customer: str | None, attention: bool, limit: int, as_json: bool = False
) -> None:
    from application.door import list_trials_at
    from domain.money import format_money
    from domain.status import TrialStatus
    from domain.view import TrialSummary

    if status is not None and status not in TrialStatus.__members__:
        _fail(f"--status {status!r} is not a status; one of: {', '.join(TrialStatus.__members__)}.")
    page = list_trials_at(
        settings.resolved_database_url, status=status, customer_id=customer,
        needs_attention=True if attention else None, limit=limit,
    )  # fmt: skip
    if as_json:
        rows = [TrialSummary.model_validate(r._mapping).model_dump(mode="json") for r in page.items]
        print(json.dumps(rows, indent=2))
        return
    if not page.items:
        print("No trials match.")
        return
    print(f"{'ORDER':<24} {'STATUS':<24} {'CUSTOMER':<14} {'VALUE':>18} {'CHARGED':>18}  ATTENTION")
    for t in page.items:
        print(
            f"{t.order_id:<24} {t.status:<24} {t.customer_id:<14} {format_money(t.value, t.currency):>18} "
            f"{format_money(t.charged, t.currency):>18}  {'yes' if t.needs_attention else ''}"
        )


def _customer(settings: Settings, customer_id: str, as_json: bool) -> None:
    from application.door import customer_story_from, read_model_at
    from domain.money import format_money

    with read_model_at(settings.resolved_database_url) as store:
        story = customer_story_from(store.engine, customer_id)
    if story is None:
        _fail(f"No trial of client {customer_id!r} in the read model.")
    if as_json:
        print(story.model_dump_json(indent=2))
        return
    spend = ", ".join(format_money(m.amount, m.currency) for m in story.spend_kept) or "nothing"
    rate = f"{story.keep_rate:.0%}" if story.keep_rate is not None else "-"
    print(f"Client {story.customer_id} ({story.tier}, {story.region}), shopper {story.personal_shopper_id or '-'}")
    print(f"{story.trials_total} trial(s) since {story.first_trial_at:%d %b %Y}; kept {story.kept} of "
          f"{story.decided} decided ({rate}); spent on what they kept: {spend}")  # fmt: skip
    for hold in story.open_holds:
        print(f"Open hold: {format_money(hold.amount, hold.currency)} on {hold.order_id}")
    print(f"\n{'ORDER':<24} {'OPENED':<12} {'STATUS':<24} {'KEPT':>4} {'RET':>4} {'CHARGED':>16}")
    for t in story.trials:
        print(f"{t.order_id:<24} {t.opened_at:%Y-%m-%d}   {t.status:<24} {t.kept:>4} {t.returned:>4} "
              f"{format_money(t.charged, t.currency):>16}")  # fmt: skip
    if story.sizes:
        print("\nSizes (kept / returned):")
        for s in story.sizes:
            print(f"  {s.designer:<28} {s.size:<10} {s.kept} / {s.returned}")
    if story.return_reasons:
        print("\nWhy they send back: " + ", ".join(f"{r.reason} {r.count}" for r in story.return_reasons))
    if story.words:
        print("\nIn their words:")
        for w in story.words[:20]:
            why = f" [{w.reason}]" if w.reason else ""
            print(f"  {w.order_id} {w.piece_id} {w.designer or ''} {w.size or ''}: {w.decision}{why} {w.words or ''}")


def _shopper(settings: Settings, shopper_id: str, as_json: bool) -> None:
    from application.door import read_model_at, shopper_trials_from

    with read_model_at(settings.resolved_database_url) as store:
        listed = shopper_trials_from(store.engine, shopper_id, datetime.now(UTC))
    if as_json:
        print(listed.model_dump_json(indent=2))
        return
    if not listed.trials:
        print(f"No open trials for {shopper_id}.")
        return
    print(f"{len(listed.trials)} open trial(s); {listed.to_nudge} to nudge; {listed.undecided_clients} client(s) "
          "with pieces undecided")  # fmt: skip
    print(f"{'ORDER':<24} {'CLIENT':<14} {'STATUS':<20} {'ENDS':<17} {'UNDECIDED':>9} {'TO SEND':>7}  NUDGE")
    for t in listed.trials:
        ends = f"{t.trial_ends_at:%d %b %H:%M}" if t.trial_ends_at else "-"
        print(f"{t.order_id:<24} {t.customer_id:<14} {t.status:<20} {ends:<17} {t.undecided:>9} "
              f"{t.to_send_back:>7}  {t.nudge or ''}")  # fmt: skip


def _attention(settings: Settings, assignee: str | None, reason: str | None, limit: int, as_json: bool) -> None:
    from application.door import attention_queue_at
    from domain.status import Attention

    reasons = [a.value for a in Attention]
    if reason is not None and reason not in reasons:
        _fail(f"--reason {reason!r} is not a reason; one of: {', '.join(reasons)}.")
    items = attention_queue_at(settings.resolved_database_url, assignee=assignee, reason=reason, limit=limit)
    if as_json:
        fields = ("order_id", "reason", "text", "since", "assignee")
        rows = [{f: getattr(i, f) for f in fields} for i in items]
        print(json.dumps(rows, indent=2, default=str))
        return
    if not items:
        print("Nothing needs staff.")
        return
    now = datetime.now(UTC)
    print(f"{'ORDER':<24} {'REASON':<24} {'AGE':>6}  {'OWNER':<14} WHAT")
    for i in items:
        age = now - i.since.replace(tzinfo=i.since.tzinfo or UTC)
        days, hours = age.days, age.seconds // 3600
        print(f"{i.order_id:<24} {i.reason:<24} {f'{days}d{hours:02d}h':>6}  {i.assignee or '-':<14} {i.text}")


def _explain(err: Exception, settings: Settings) -> str:
    from domain.errors import DomainError

    if isinstance(err, DomainError):
        return f"{err.code.value}: {err.message}"
    text = str(err) or type(err).__name__
    if "connect" in text.lower() or isinstance(err, ConnectionRefusedError):
        return f"cannot reach Temporal at {settings.temporal_address}; is `styletrial dev` running?"
    return f"{type(err).__name__}: {text}"


def _redacted(url: str) -> str:
    """A database URL without its password, fit for a terminal or a log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _fail(message: str) -> NoReturn:
    print(f"styletrial: {message}", file=sys.stderr)
    sys.exit(1)

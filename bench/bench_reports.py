"""The reports at scale: PostgreSQL filled with generated trials by COPY, then each report timed.

    .venv/bin/python -m bench.bench_reports [trials] [runs]

A fresh database on the local server (dropped afterwards) is migrated to head and filled with `trials`
closed trials (default 1,000,000) opened over two years, 3 pieces each: tiers, 12 regions, 400 shoppers,
60 designers, 5,000 SKUs, three currencies, decisions with reasons, delivery and decision times, 2% of the
kept pieces refunded, 2% of the trials still open. A client's story (50,000 clients, 20 trials each) and a
shopper's open trials (400 shoppers) are read 5 x `runs` times each. Then each
report, and the charts page whole (queries and drawing), runs `runs` times (default 20) over the last 30 days (the page's default) and over a whole year,
and the p50 and p95 are reported, ending with `report_<name>_30d_p95_ms=` lines.
"""

import io
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from api.reports import render_page
from application.door import customer_story_from, shopper_trials_from
from application.reports import Reports
from domain.digest import week_ending_before
from persistence import reports
from persistence.digest import weekly_digest
from persistence.migrate import upgrade
from tests.databases import POSTGRES_ADMIN_URL

SIZES = ["IT 38", "IT 40", "IT 42", "IT 44", "IT 46", "IT 48", "IT 50", "S", "M", "L"]
REASONS = ["too_small", "too_large", "fit", "colour", "quality", "not_as_pictured", "changed_mind", "other", None]
START = datetime(2024, 11, 25, tzinfo=UTC)
SPAN = timedelta(days=730)


def _rows(n: int, seed: int = 7) -> tuple[io.StringIO, io.StringIO]:
    rng = random.Random(seed)
    trials, pieces = io.StringIO(), io.StringIO()
    for i in range(n):
        tid = f"style-trial-G{i:07d}"
        opened = START + SPAN * (i / n)
        delivered = opened + timedelta(days=2)
        currency = ("GBP", "EUR", "USD")[i % 3]
        region = f"R{i % 12:02d}"
        tier = "EIP_PREMIUM" if i % 5 == 0 else "EIP"
        shopper = f"ps-{i % 400}"
        value = 0
        for k in range(3):
            price = rng.randrange(50_000, 900_000)
            value += price
            keep = rng.random() < 0.55
            reason = "" if keep else (rng.choice(REASONS) or "")
            # 2% of the kept pieces refunded later, all or part of their price.
            refund = rng.choice([price, price // 2]) if keep and rng.random() < 0.02 else None
            state = "RETURNED" if not keep else "KEPT" if refund is None else "REFUNDED"
            refunded = "\\N" if refund is None else str(refund)
            decided = delivered + timedelta(hours=rng.randrange(1, 160))
            # One piece in ten has the client's own words on it.
            said = f"Words on piece {k} of {tid}" if rng.random() < 0.1 else "\\N"
            pieces.write(
                f"{tid}\tp{k}\t{k}\tSKU-{rng.randrange(5000)}\tPiece\t{price}\tD{rng.randrange(60):02d}\t"
                f"{SIZES[rng.randrange(len(SIZES))]}\t"
                f"{state}\t{'keep' if keep else 'return'}\tclient\tapp\t"
                f"{decided.isoformat()}\t{delivered.isoformat()}\t{reason or chr(92) + 'N'}\t{said}\t{'t' if keep else 'f'}\t1\t"
                f"{opened.isoformat()}\t{currency}\t{tier}\t{region}\t{shopper}\t{refunded}\n"
            )
        trials.write(
            f"{tid}\tG{i:07d}\t1\t{'ON_TRIAL' if (i // 400) % 50 == 0 else 'COMPLETED'}\t{'t' if i % 997 == 0 else 'f'}\t{{}}\tcus-{i % 50000}\t{tier}\t{region}\t"
            f"{shopper}\t{currency}\t{value}\t0\t{value // 2}\t{value}\t{opened.isoformat()}\t{opened.isoformat()}\t"
            f"{opened.isoformat()}\t{(delivered + timedelta(days=7)).isoformat()}\t"
            f"{(delivered + timedelta(days=12)).isoformat()}\t{(delivered + timedelta(days=10)).isoformat()}\t0\t"
            f"{(delivered + timedelta(days=12)).isoformat()}\t\\N\n"
        )
    trials.seek(0)
    pieces.seek(0)
    return trials, pieces


TRIAL_COLUMNS = (
    "trial_id, order_id, revision, status, needs_attention, attention, customer_id, tier, region, "
    "personal_shopper_id, currency, value, authorized, charged, released, opened_at, accepted_at, dispatched_at, "
    "trial_ends_at, closed_at, return_deadline, extension_days, updated_at, view"
)
PIECE_COLUMNS = (
    "trial_id, piece_id, position, sku, description, price, designer, size, state, decision, decided_by, decided_via, "
    "decided_at, delivered_at, return_reason, feedback, charged, settlement, trial_opened_at, currency, tier, region, "
    "personal_shopper_id, refunded"
)


def main(n: int = 1_000_000, runs: int = 20) -> None:
    name = f"styletrial_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = create_engine(url)
        began = time.perf_counter()
        trials, pieces = _rows(n)
        generated = time.perf_counter() - began
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                for table, columns, data in (("trials", TRIAL_COLUMNS, trials), ("pieces", PIECE_COLUMNS, pieces)):
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        while chunk := data.read(1 << 20):
                            copy.write(chunk)
            raw.commit()
        finally:
            raw.close()
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        loaded = time.perf_counter() - began - generated
        print(f"{n:,} trials, {3 * n:,} pieces: generated in {generated:.0f} s, COPY + ANALYZE in {loaded:.0f} s")
        last = START + SPAN
        windows = {"30d": (last - timedelta(days=30), last), "365d": (last - timedelta(days=365), last)}
        cases: dict[str, Callable[[datetime, datetime], Any]] = {
            "keep_rate_designer": lambda a, b: reports.keep_rate(engine, "designer", a, b),
            "keep_rate_sku": lambda a, b: reports.keep_rate(engine, "sku", a, b),
            "keep_rate_shopper": lambda a, b: reports.keep_rate(engine, "shopper", a, b),
            "return_reasons_designer": lambda a, b: reports.return_reasons(engine, "designer", a, b),
            "voice_designer": lambda a, b: reports.voice(engine, "designer", a, b),
            "voice_sku": lambda a, b: reports.voice(engine, "sku", a, b),
            "decision_time_region": lambda a, b: reports.decision_time(engine, "region", a, b),
            "attention": lambda a, b: reports.attention(engine, a, b),
            # The charts page (/reports) whole: its four queries and the drawing, as its thread runs it.
            "charts_page": lambda a, b: [render_page(Reports(engine), a.date(), b.date(), a, b)],
        }
        figures = {}
        people_p95: dict[str, float] = {}
        # A client's story and a shopper's open trials: by their indexes, whatever the window (the client of
        # 20 trials, the shopper with 2,500 trials of which 50 are open).
        now = START + SPAN
        people: dict[str, Callable[[], Any]] = {
            "customer_story": lambda: [customer_story_from(engine, f"cus-{rng.randrange(50000)}")],
            "shopper_trials": lambda: shopper_trials_from(engine, f"ps-{rng.randrange(400)}", now).trials,
            # The Monday digest of the last week (its five queries, by when pieces were decided).
            "buying_digest": lambda: [weekly_digest(engine, week_ending_before(now.date()))],
        }
        rng = random.Random(11)
        for case, read in people.items():
            times, rows = [], []
            for _ in range(runs * 5):
                t0 = time.perf_counter()
                rows = read()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            people_p95[case] = p95
            print(
                f"  {case:<26} {'-':>5}: {len(rows):>6} rows  p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms"
            )
        for case, run in cases.items():
            for window, (a, b) in windows.items():
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    rows = run(a, b)
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                figures[f"{case}_{window}"] = p95
                print(
                    f"  {case:<26} {window:>5}: {len(rows):>6} rows  p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms"
                )
        for key, p95 in figures.items():
            if key.endswith("_30d"):
                print(f"report_{key.removesuffix('_30d')}_30d_p95_ms={p95:.0f}")
        for case, p95 in people_p95.items():
            print(f"{case}_p95_ms={p95:.1f}")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:3]])

"""Reports for client relations and buying (persistence/reports.py): JSON routes for any role, and a page of
charts for people (`/reports`), both from the read model.

A date range is whole UTC days, `since` to `until` inclusive, by the day a trial opened; the last 30 days by
default, at most ten years. Money stays in each trial's currency, one row per currency.
"""

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any

import pygal
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field
from pygal.style import Style

from api.auth import AnyRole, ApiError
from api.models import errors
from api.services import ServicesDep
from application import reports
from application.reports import KeepRateBy, ReasonsBy, Reports

router = APIRouter(tags=["reports"])

Since = Annotated[
    date | None, Query(description="First day (UTC) trials opened on; 30 days before `until` by default.")
]
Until = Annotated[date | None, Query(description="Last day (UTC) trials opened on, included; today by default.")]


class KeepRateItem(BaseModel):
    key: str = Field(description="The shopper, region, tier, designer or SKU.", examples=["Loro Piana"])
    currency: str = Field(description="The trials' currency: amounts are never converted.", examples=["GBP"])
    decided: int = Field(description="Pieces with a keep or return decision.", examples=[120])
    kept: int = Field(description="Of those, kept.", examples=[78])
    keep_rate: float = Field(description="kept / decided.", examples=[0.65])
    revenue_kept: int = Field(
        description="The price of the kept pieces, in minor units of `currency`.", examples=[9_360_000]
    )
    refunded: int = Field(
        description="What support refunded of these pieces after charging them (a goodwill return, a fault "
        "found later), in minor units of `currency`: `revenue_kept - refunded` is what they brought in the end.",
        examples=[120_000],
    )


class ReasonItem(BaseModel):
    key: str = Field(description="The SKU or designer.", examples=["SKU-CASH-OVC-48"])
    reason: str = Field(
        description="Why they went back; `not_given` when the client did not say.", examples=["too_small"]
    )
    returned: int = Field(description="Pieces returned for that reason.", examples=[12])


class QuoteItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # the query's rows, as they are

    words: str = Field(description="The client's own words on the piece, verbatim.", examples=["Tight at the waist."])
    decision: str = Field(description="What they decided: keep or return.", examples=["return"])
    reason: str | None = Field(description="Why it went back (returns).", examples=["too_small"])
    size: str | None = Field(description="The piece's size, as the house labels it.", examples=["IT 40"])
    decided_at: datetime | None = Field(description="When they decided (UTC).", examples=["2026-11-24T09:30:00Z"])


class VoiceItem(BaseModel):
    key: str = Field(description="The SKU or designer.", examples=["Loro Piana"])
    decided: int = Field(description="Pieces with a keep or return decision.", examples=[40])
    kept: int = Field(description="Of those, kept.", examples=[26])
    returned: int = Field(description="Of those, returned.", examples=[14])
    exchanged: int = Field(
        description="Of the returned, exchanged for another piece (a size, a colour): the exchange rate's count.",
        examples=[6],
    )
    reasons: dict[str, int] = Field(
        description="Why the returned ones went back, with their counts (`not_given` when not said).",
        examples=[{"too_small": 9, "fit": 3, "not_given": 2}],
    )
    quotes: list[QuoteItem] = Field(description="The clients' own words, newest first (at most 5).", examples=[[]])


class DecisionTimeItem(BaseModel):
    key: str = Field(description="The shopper, region, tier, designer or SKU.", examples=["UK"])
    decided: int = Field(description="Pieces decided after their delivery.", examples=[300])
    average_hours: float = Field(description="Average hours from delivery to the (last) decision.", examples=[52.5])


class AttentionItem(BaseModel):
    hub: str = Field(description="The region whose hub serves the trials.", examples=["UK"])
    needing_attention: int = Field(description="Trials flagged for staff.", examples=[3])
    open_trials: int = Field(description="Trials not yet completed, cancelled or rejected.", examples=[41])


class Report(BaseModel):
    since: date = Field(description="First day (UTC) of the range.", examples=["2026-10-25"])
    until: date = Field(description="Last day (UTC) of the range, included.", examples=["2026-11-24"])
    by: str | None = Field(description="What the rows are grouped by.", examples=["designer"])


class KeepRateReport(Report):
    items: list[KeepRateItem] = Field(description="One row per group and currency.", examples=[[]])


class ReasonsReport(Report):
    items: list[ReasonItem] = Field(description="One row per group and reason, most frequent first.", examples=[[]])


class VoiceReport(Report):
    items: list[VoiceItem] = Field(description="One row per group, the most returned first.", examples=[[]])


class DecisionTimeReport(Report):
    items: list[DecisionTimeItem] = Field(description="One row per group.", examples=[[]])


class AttentionReport(Report):
    items: list[AttentionItem] = Field(description="One row per hub.", examples=[[]])


def _range(since: date | None, until: date | None) -> tuple[date, date, datetime, datetime]:
    try:
        r = reports.date_range(since, until, datetime.now(UTC).date())
    except ValueError as err:
        raise ApiError(422, "invalid_request", str(err)) from None
    return r.first, r.last, r.start, r.end


RESPONSES = errors(401, 422, 503)


async def _report(
    request: Request, report: type[Report], item: type[BaseModel], since: date | None, until: date | None,
    by: str | None, rows: Callable[[datetime, datetime], list[Any]],
) -> Response:  # fmt: skip
    """A report over the range: its query, its rows' models and their JSON on a thread, a few at once
    (`ChartsPage.queries`). A year by SKU is 15,000 rows, and a read token must not be able to stall the
    event loop with them."""
    first, last, start, end = _range(since, until)

    def run() -> str:
        items = [item(**vars(r)) for r in rows(start, end)]
        return report(since=first, until=last, by=by, items=items).model_dump_json()

    charts: ChartsPage = request.app.state.charts
    async with charts.queries:
        return Response(await asyncio.to_thread(run), media_type="application/json")


@router.get("/v1/reports/keep-rate", response_model=KeepRateReport, responses=RESPONSES)
async def keep_rate_report(
    _: AnyRole, request: Request, services: ServicesDep, by: KeepRateBy = "designer", since: Since = None,
    until: Until = None,
) -> Response:  # fmt: skip
    """Of the pieces decided, the share kept and the price of those kept, per group and currency."""
    return await _report(
        request, KeepRateReport, KeepRateItem, since, until, by, partial(services.reports.keep_rate, by)
    )


@router.get("/v1/reports/return-reasons", response_model=ReasonsReport, responses=RESPONSES)
async def return_reasons_report(
    _: AnyRole, request: Request, services: ServicesDep, by: ReasonsBy = "designer", since: Since = None,
    until: Until = None,
) -> Response:  # fmt: skip
    """Why returned pieces went back, per SKU or designer."""
    return await _report(
        request, ReasonsReport, ReasonItem, since, until, by, partial(services.reports.return_reasons, by)
    )


@router.get("/v1/reports/voice", response_model=VoiceReport, responses=RESPONSES)
async def voice_report(
    _: AnyRole, request: Request, services: ServicesDep, by: ReasonsBy = "designer", since: Since = None,
    until: Until = None,
) -> Response:  # fmt: skip
    """The voice of the customer, per SKU or designer: pieces decided, kept and returned, the reasons with
    their counts, and the clients' own words (the newest five, verbatim), the most returned first."""
    return await _report(request, VoiceReport, VoiceItem, since, until, by, partial(services.reports.voice, by))


@router.get("/v1/reports/decision-time", response_model=DecisionTimeReport, responses=RESPONSES)
async def decision_time_report(
    _: AnyRole, request: Request, services: ServicesDep, by: KeepRateBy = "region", since: Since = None,
    until: Until = None,
) -> Response:  # fmt: skip
    """The average time from a piece's delivery to its decision, per group."""
    return await _report(
        request, DecisionTimeReport, DecisionTimeItem, since, until, by, partial(services.reports.decision_time, by)
    )


@router.get("/v1/reports/attention", response_model=AttentionReport, responses=RESPONSES)
async def attention_report(
    _: AnyRole, request: Request, services: ServicesDep, since: Since = None, until: Until = None
) -> Response:
    """Trials needing staff, and open trials, per hub."""
    return await _report(
        request, AttentionReport, AttentionItem, since, until, "hub", partial(services.reports.attention)
    )


# ---------------------------------------------------------------------------------------------- the page

_STYLE = Style(background="white", plot_background="white", font_family="sans-serif", colors=(
    "#1f3a5f", "#c8a24a", "#7a8ea8", "#b5554b", "#4f7a5a", "#8a6fb0", "#d08c60", "#5c5c5c",
))  # fmt: skip
_PAGE = Environment(loader=PackageLoader("api"), autoescape=select_autoescape(["html"])).get_template("reports.html")
# A chart shows the designers (and hubs) with the most decided or returned pieces, and the rest as one bar:
# 600 designers once made a 1.8 MB page that took 2 s to render. The JSON routes have every row.
TOP = 12
# How long a rendered page is served as it is, and how many renders run at once (each on a thread: pygal is
# pure Python, so more at once would only share the same core with the event loop).
PAGE_SECONDS = 30.0
RENDERS_AT_ONCE = 1
QUERIES_AT_ONCE = 2
# Content-Security-Policy of the page: no script at all, nothing from another origin; pygal's SVGs carry
# their styles inline.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class ChartsPage:
    """The charts page, rendered off the event loop, one render at a time, each served for `PAGE_SECONDS`.
    Requests for a range already being rendered wait for that render rather than starting another, so ten
    readers asking at once cost one render, and `/healthz` and every command keep their event loop."""

    def __init__(self, seconds: float = PAGE_SECONDS, at_once: int = RENDERS_AT_ONCE) -> None:
        self._seconds = seconds
        self._gate = asyncio.Semaphore(at_once)
        self.queries = asyncio.Semaphore(QUERIES_AT_ONCE)  # the JSON reports'
        self._pages: dict[tuple[date, date], tuple[float, str]] = {}
        self._rendering: dict[tuple[date, date], asyncio.Task[str]] = {}

    async def page(self, key: tuple[date, date], render: Callable[[], str]) -> str:
        cached = self._pages.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.create_task(self._render(key, render))
            self._rendering[key] = task
            task.add_done_callback(lambda _: self._rendering.pop(key, None))
        # Shielded: one reader giving up does not cancel the render the others wait for.
        return await asyncio.shield(task)

    async def _render(self, key: tuple[date, date], render: Callable[[], str]) -> str:
        async with self._gate:
            page = await asyncio.to_thread(render)
        now = time.monotonic()
        self._pages = {k: v for k, v in self._pages.items() if v[0] > now}  # expired pages go
        self._pages[key] = (now + self._seconds, page)
        return page


def _chart(kind: Any, title: str, **options: Any) -> Any:
    # No scripts (`js=[]`): pygal's default tooltips load from a CDN, and the page must work offline.
    return kind(title=title, style=_STYLE, js=[], width=900, height=360, legend_at_bottom=True, **options)


# pygal writes each chart's whole configuration (every label included) into an inline script for its
# tooltips, which this page never loads: the page has no script at all, and its policy would block one.
_CONFIG_SCRIPT = re.compile(r"<script[^>]*>.*?</script>", re.DOTALL)


def _svg(chart: Any) -> str:
    return _CONFIG_SCRIPT.sub("", str(chart.render(is_unicode=True)))


def top_keep_rates(rows: list[reports.KeepRateRow], top: int = TOP) -> list[reports.KeepRateRow]:
    """The `top` groups with the most decided pieces, and the rest summed as one row (`others (n)`)."""
    ranked = sorted(rows, key=lambda r: (-r.decided, r.key))
    shown, rest = ranked[:top], ranked[top:]
    if not rest:
        return shown
    decided, kept = sum(r.decided for r in rest), sum(r.kept for r in rest)
    others = reports.KeepRateRow(
        key=f"others ({len(rest)})", currency=rest[0].currency, decided=decided, kept=kept,
        keep_rate=kept / decided if decided else 0.0, revenue_kept=sum(r.revenue_kept for r in rest),
        refunded=sum(r.refunded for r in rest),
    )  # fmt: skip
    return [*shown, others]


def top_reasons(rows: list[reports.ReasonRow], top: int = TOP) -> tuple[list[str], dict[tuple[str, str], int]]:
    """The `top` designers with the most returns (then `others (n)`), and the count per (designer, reason)."""
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.key] = totals.get(r.key, 0) + r.returned
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    shown = set(ranked[:top])
    others = f"others ({len(ranked) - top})" if len(ranked) > top else None
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        key = r.key if r.key in shown else str(others)
        counts[(key, r.reason)] = counts.get((key, r.reason), 0) + r.returned
    return [*ranked[:top], *([others] if others else [])], counts


def render_page(source: Reports, first: date, last: date, start: datetime, end: datetime, top: int = TOP) -> str:
    """The whole page, queries included: called on a thread (`ChartsPage`)."""
    keep = source.keep_rate("designer", start, end)
    reasons_rows = source.return_reasons("designer", start, end)
    times = sorted(source.decision_time("region", start, end), key=lambda r: (-r.decided, r.key))[:top]
    hubs = sorted(source.attention(start, end), key=lambda r: (-r.open_trials, r.hub))[:top]
    charts = []
    for currency in sorted({r.currency for r in keep}):
        rows = top_keep_rates([r for r in keep if r.currency == currency], top)
        chart = _chart(
            pygal.Bar, f"Keep rate by designer ({currency})", range=(0, 1), value_formatter=lambda v: f"{v:.0%}"
        )
        chart.x_labels = [r.key for r in rows]
        chart.add("keep rate", [r.keep_rate for r in rows])
        charts.append(("keep-rate", _svg(chart)))
        revenue = _chart(pygal.HorizontalBar, f"Revenue kept by designer ({currency}, minor units)")
        for r in rows:
            revenue.add(r.key, r.revenue_kept)
        charts.append(("revenue", _svg(revenue)))
    designers, counts = top_reasons(reasons_rows, top)
    stacked = _chart(pygal.StackedBar, "Return reasons by designer")
    stacked.x_labels = designers
    for reason in sorted({r.reason for r in reasons_rows}):
        stacked.add(reason, [counts.get((d, reason), 0) for d in designers])
    charts.append(("reasons", _svg(stacked)))
    decide = _chart(pygal.Bar, "Average hours from delivery to decision, by hub")
    decide.x_labels = [r.key for r in times]
    decide.add("hours", [r.average_hours for r in times])
    charts.append(("decision-time", _svg(decide)))
    attention_chart = _chart(pygal.Bar, "Trials needing attention, and open, by hub")
    attention_chart.x_labels = [r.hub for r in hubs]
    attention_chart.add("needing attention", [r.needing_attention for r in hubs])
    attention_chart.add("open", [r.open_trials for r in hubs])
    charts.append(("attention", _svg(attention_chart)))
    # The voice of the customer: the most returned designers, why, and what clients said (verbatim).
    voice = [row for row in source.voice("designer", start, end, top=top) if row.returned]
    rendered = datetime.now(UTC).strftime("%H:%M:%S UTC")
    # The SVGs are pygal's markup (it escapes the labels inside them); everything else is escaped by Jinja2,
    # the clients' own words included.
    return _PAGE.render(first=first, last=last, rendered=rendered, top=top, charts=charts, voice=voice)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(
    _: AnyRole, request: Request, services: ServicesDep, since: Since = None, until: Until = None
) -> HTMLResponse:
    """Charts for client relations and buying: keep rate and revenue kept by designer, return reasons by
    designer, time to decide and attention by hub. Rendered on the server (pygal, SVG), no script."""
    first, last, start, end = _range(since, until)
    charts: ChartsPage = request.app.state.charts
    page = await charts.page((first, last), partial(render_page, services.reports, first, last, start, end))
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})

"""Reports for client relations and buying (persistence/reports.py): JSON routes for any role, and a page of
charts for people (`/reports`), both from the read model.

A date range is whole UTC days, `since` to `until` inclusive, by the day a trial opened; the last 30 days by
default, at most ten years. Money stays in each trial's currency, one row per currency.
"""

import asyncio
import html
from datetime import UTC, date, datetime
from typing import Annotated, Any

import pygal
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from pygal.style import Style

from api.auth import AnyRole, ApiError
from api.models import errors
from api.services import ServicesDep
from persistence import reports
from persistence.reports import KeepRateBy, ReasonsBy

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


@router.get("/v1/reports/keep-rate", response_model=KeepRateReport, responses=RESPONSES)
async def keep_rate_report(
    _: AnyRole, services: ServicesDep, by: KeepRateBy = "designer", since: Since = None, until: Until = None
) -> KeepRateReport:
    """Of the pieces decided, the share kept and the price of those kept, per group and currency."""
    first, last, start, end = _range(since, until)
    rows = await asyncio.to_thread(reports.keep_rate, services.store.engine, by, start, end)
    return KeepRateReport(since=first, until=last, by=by, items=[KeepRateItem(**vars(r)) for r in rows])


@router.get("/v1/reports/return-reasons", response_model=ReasonsReport, responses=RESPONSES)
async def return_reasons_report(
    _: AnyRole, services: ServicesDep, by: ReasonsBy = "designer", since: Since = None, until: Until = None
) -> ReasonsReport:
    """Why returned pieces went back, per SKU or designer."""
    first, last, start, end = _range(since, until)
    rows = await asyncio.to_thread(reports.return_reasons, services.store.engine, by, start, end)
    return ReasonsReport(since=first, until=last, by=by, items=[ReasonItem(**vars(r)) for r in rows])


@router.get("/v1/reports/decision-time", response_model=DecisionTimeReport, responses=RESPONSES)
async def decision_time_report(
    _: AnyRole, services: ServicesDep, by: KeepRateBy = "region", since: Since = None, until: Until = None
) -> DecisionTimeReport:
    """The average time from a piece's delivery to its decision, per group."""
    first, last, start, end = _range(since, until)
    rows = await asyncio.to_thread(reports.decision_time, services.store.engine, by, start, end)
    return DecisionTimeReport(since=first, until=last, by=by, items=[DecisionTimeItem(**vars(r)) for r in rows])


@router.get("/v1/reports/attention", response_model=AttentionReport, responses=RESPONSES)
async def attention_report(
    _: AnyRole, services: ServicesDep, since: Since = None, until: Until = None
) -> AttentionReport:
    """Trials needing staff, and open trials, per hub."""
    first, last, start, end = _range(since, until)
    rows = await asyncio.to_thread(reports.attention, services.store.engine, start, end)
    return AttentionReport(since=first, until=last, by="hub", items=[AttentionItem(**vars(r)) for r in rows])


# ---------------------------------------------------------------------------------------------- the page

_STYLE = Style(background="white", plot_background="white", font_family="sans-serif", colors=(
    "#1f3a5f", "#c8a24a", "#7a8ea8", "#b5554b", "#4f7a5a", "#8a6fb0", "#d08c60", "#5c5c5c",
))  # fmt: skip


def _chart(kind: Any, title: str, **options: Any) -> Any:
    # No scripts (`js=[]`): pygal's default tooltips load from a CDN, and the page must work offline.
    return kind(title=title, style=_STYLE, js=[], width=900, height=360, legend_at_bottom=True, **options)


def _svg(chart: Any) -> str:
    return str(chart.render(is_unicode=True))


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(_: AnyRole, services: ServicesDep, since: Since = None, until: Until = None) -> HTMLResponse:
    """Charts for client relations and buying: keep rate and revenue kept by designer, return reasons by
    designer, time to decide and attention by hub. Rendered on the server (pygal, SVG), no script."""
    first, last, start, end = _range(since, until)
    engine = services.store.engine
    keep, reasons_rows, times, hubs = await asyncio.gather(
        asyncio.to_thread(reports.keep_rate, engine, "designer", start, end),
        asyncio.to_thread(reports.return_reasons, engine, "designer", start, end),
        asyncio.to_thread(reports.decision_time, engine, "region", start, end),
        asyncio.to_thread(reports.attention, engine, start, end),
    )
    charts = []
    for currency in sorted({r.currency for r in keep}):
        rows = [r for r in keep if r.currency == currency]
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
    designers = sorted({r.key for r in reasons_rows})
    stacked = _chart(pygal.StackedBar, "Return reasons by designer")
    stacked.x_labels = designers
    for reason in sorted({r.reason for r in reasons_rows}):
        counts = {r.key: r.returned for r in reasons_rows if r.reason == reason}
        stacked.add(reason, [counts.get(d, 0) for d in designers])
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
    figures = "\n".join(f'<figure class="chart" data-chart="{name}">{svg}</figure>' for name, svg in charts)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Style Trial reports</title>
<style>body{{font-family:sans-serif;margin:2rem;color:#222}} figure{{margin:1.5rem 0}} h1{{font-weight:500}}</style>
</head><body>
<h1>Style Trial: trials opened {html.escape(str(first))} to {html.escape(str(last))}</h1>
<p>From the read model. Money in each trial's currency, in minor units; no conversion.
The same figures as JSON: <code>/v1/reports/keep-rate</code>, <code>/v1/reports/return-reasons</code>,
<code>/v1/reports/decision-time</code>, <code>/v1/reports/attention</code>.</p>
{figures}
</body></html>"""
    return HTMLResponse(page)

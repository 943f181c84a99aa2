"""The charts page under load: rendered off the event loop, once for many readers at a time, bounded in
size however many designers there are, and served with a policy that allows no script. A real SQLite read
model, with trials driven through the domain and projected as the workflow projects them."""

import asyncio
import threading
from datetime import timedelta
from typing import Any, cast

import httpx

from api.app import create_app
from api.reports import TOP, ChartsPage, top_keep_rates, top_reasons
from application.door import Application
from domain.examples import order
from domain.policy import PolicyTable, TrialPolicy
from domain.view import view_of
from persistence.db import make_engine
from persistence.reports import KeepRateRow, ReasonRow
from persistence.store import SqlStore
from tests.integration.test_reports import decided, designed

R = {"Authorization": "Bearer t"}


def test_a_chart_shows_the_top_designers_and_the_rest_as_one_bar():
    rows = [KeepRateRow(f"d{i:03}", "GBP", i + 1, i, i / (i + 1), 1000 * i, 10 * i) for i in range(600)]
    shown = top_keep_rates(rows)
    assert len(shown) == TOP + 1 and shown[-1].key == f"others ({600 - TOP})"
    assert [r.key for r in shown[:2]] == ["d599", "d598"], "the most decided first"
    rest = rows[: 600 - TOP]
    assert shown[-1].decided == sum(r.decided for r in rest) and shown[-1].kept == sum(r.kept for r in rest)
    assert shown[-1].revenue_kept == sum(r.revenue_kept for r in rest)
    assert sum(r.refunded for r in shown) == sum(r.refunded for r in rows), "no money lost in the grouping"
    assert top_keep_rates(rows[:3]) == sorted(rows[:3], key=lambda r: -r.decided)
    reasons = [ReasonRow(f"d{i:03}", reason, i) for i in range(100) for reason in ("fit", "colour")]
    designers, counts = top_reasons(reasons)
    assert len(designers) == TOP + 1 and designers[-1] == f"others ({100 - TOP})"
    assert sum(counts.values()) == sum(r.returned for r in reasons)


async def test_readers_asking_at_once_share_one_render_on_a_thread_while_the_loop_goes_on():
    page = ChartsPage(seconds=60)
    release = threading.Event()
    renders: list[str] = []

    def render() -> str:
        renders.append(threading.current_thread().name)
        release.wait(10)  # a slow render: the event loop must not wait for it
        return "<html>charts</html>"

    key = (order(1).model_copy().pieces[0].price, 0)  # any hashable range
    readers = [asyncio.create_task(page.page(cast(Any, key), render)) for _ in range(10)]
    for _ in range(50):  # the loop turns while the render runs
        await asyncio.sleep(0.01)
    assert not any(r.done() for r in readers)
    release.set()
    assert await asyncio.gather(*readers) == ["<html>charts</html>"] * 10
    assert len(renders) == 1 and renders[0] != threading.main_thread().name
    assert await page.page(cast(Any, key), render) == "<html>charts</html>" and len(renders) == 1, "served again"


async def test_the_page_over_many_designers_is_bounded_and_allows_no_script(tmp_path):
    from persistence.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'reports.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    store = SqlStore(engine)

    def project() -> None:
        for i in range(12):  # 36 designers, three a trial
            o = designed(order(3, order_id=f"r-{i}"), [f"house-{i}-{j}" for j in range(3)])
            d = decided(o, [("keep", None), ("return", "fit"), ("keep", None)], timedelta(hours=5))
            store.project(1, view_of(d.trial))

    await asyncio.to_thread(project)
    none = cast(Any, None)
    app = create_app(Application(none, none, store, PolicyTable(base=TrialPolicy())), tokens={"t": "read"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        since = {"since": "2020-01-01", "until": "2030-01-01"}
        answers = await asyncio.gather(*(api.get("/reports", params=since, headers=R) for _ in range(8)))
        health = await api.get("/healthz")
    assert {a.status_code for a in answers} == {200} and health.status_code == 200
    assert len({a.text for a in answers}) == 1, "one render for eight readers"
    html = answers[0].text
    assert "others (24)" in html and "house-0-0" in html
    assert len(html) < 200_000, len(html)
    csp = answers[0].headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "<script" not in html
    assert answers[0].headers["x-content-type-options"] == "nosniff"
    engine.dispose()

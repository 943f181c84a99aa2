"""The command line against the engine as separate processes: `styletrial demo` brings every scenario to the
status it names, and the short client-only commands (`trial show`, `trial list`) answer cleanly every time,
in text and in JSON."""

import json
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from soak.processes import BIN, Stack

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(300)]
SCENARIOS = ("awaiting dispatch", "in transit", "on trial", "awaiting returns", "completed", "cancelled",
             "declined card", "dunning", "label return", "collection")  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, subprocess.CompletedProcess[str]]]:
    stack = Stack(tmp_path_factory.mktemp("demo"), time_scale=1, workers=1)
    stack.start()
    try:
        done = subprocess.run(
            [str(BIN / "styletrial"), "demo", "--day-seconds", "2"], env=stack.env(), capture_output=True,
            text=True, timeout=150,
        )  # fmt: skip
        yield stack, done
    finally:
        stack.stop()


def styletrial(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "styletrial"), *args], env=stack.env(), capture_output=True, text=True, timeout=60)


def test_the_demo_starts_every_scenario_plays_fulfilment_and_says_where_to_watch(demo):
    stack, done = demo
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"http://127.0.0.1:{stack.ui_port}/namespaces/default/workflows" in lines[1]
    progress = [line for line in lines if re.match(r"\s+\[\d+/10\]", line)]
    assert [int(re.search(r"\[(\d+)/10\]", line).group(1)) for line in progress] == list(range(1, 11))  # type: ignore[union-attr]
    for scenario in SCENARIOS:
        assert any(f"] {scenario} " in line and "failed" not in line for line in progress), done.stdout
    # The label's link opens the PDF the embedded returns provider rendered, from the dev stack's API.
    (label,) = [line.rsplit(" ", 1)[1] for line in lines if line.startswith("The prepaid label")]
    assert label.startswith(f"{stack.api_url}/v1/return-labels/")
    pdf = httpx.get(label, timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-"), label


def test_trial_show_exits_cleanly_fifty_times_in_a_row(demo):
    """It used to abort now and then with exit 134 (PyGILState_Release) after printing the trial."""
    stack, done = demo
    (completed,) = re.findall(r"\] completed\s+(\S+)", done.stdout)
    # Two at a time (the machine's two cores): the abort came at interpreter shutdown, whatever ran beside.
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: styletrial(stack, "trial", "show", completed), range(50)))
    for shown in runs:
        assert shown.stdout.startswith(f"Order {completed}: completed"), shown.stdout + shown.stderr
    assert [shown.returncode for shown in runs] == [0] * 50
    view = json.loads(styletrial(stack, "trial", "show", completed, "--json").stdout)
    assert view["order_id"] == completed and view["status"] == "COMPLETED" and len(view["pieces"]) == 5
    missing = styletrial(stack, "trial", "show", "NO-SUCH-ORDER")
    assert missing.returncode == 1 and missing.stderr.startswith("styletrial: ") and "Traceback" not in missing.stderr


def test_trial_list_has_a_header_a_json_form_and_refuses_an_unknown_status(demo):
    stack, _ = demo
    listed = styletrial(stack, "trial", "list")
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ORDER", "STATUS", "CUSTOMER", "VALUE", "CHARGED", "ATTENTION"]
    assert len(rows) == 10
    as_json = json.loads(styletrial(stack, "trial", "list", "--json", "--status", "COMPLETED").stdout)
    # With two-second days, more than the "completed" scenario may have completed by now.
    assert as_json and {row["status"] for row in as_json} == {"COMPLETED"} and max(r["charged"] for r in as_json) > 0
    wrong = styletrial(stack, "trial", "list", "--status", "on_trial")
    assert wrong.returncode == 1 and "not a status" in wrong.stderr and "ON_TRIAL" in wrong.stderr


def test_the_attention_queue_lists_what_needs_staff_oldest_first_and_refuses_an_unknown_reason(demo):
    stack, _ = demo
    # The trial awaiting dispatch passes its dispatch SLA within seconds of two-second days.
    for _ in range(60):
        items = json.loads(styletrial(stack, "attention", "--json").stdout)
        if any(i["reason"] == "dispatch_overdue" for i in items):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"nothing flagged dispatch_overdue: {items}")
    assert [i["since"] for i in items] == sorted(i["since"] for i in items), "oldest first"
    assert all(i["assignee"] is None for i in items)
    header, *rows = styletrial(stack, "attention").stdout.splitlines()
    assert header.split() == ["ORDER", "REASON", "AGE", "OWNER", "WHAT"] and len(rows) == len(items)
    one = json.loads(styletrial(stack, "attention", "--json", "--reason", "dispatch_overdue").stdout)
    assert one and {i["reason"] for i in one} == {"dispatch_overdue"}
    assert styletrial(stack, "attention", "--assignee", "nobody").stdout.strip() == "Nothing needs staff."
    wrong = styletrial(stack, "attention", "--reason", "late")
    assert wrong.returncode == 1 and "not a reason" in wrong.stderr and "return_lost" in wrong.stderr

"""The run dashboard in headless Chromium, fed by a real flow on the local development host.

A succeeded run (the sample landed, BlobCreated events posted to the host's Event Grid webhook) and a failed
run (the emulator fails the job) are shown; the filters narrow the table; the failed run's detail shows its
error; the trend charts (runs over time by status, duration per route, now/retries/sweep tiles) show both runs;
a screenshot goes to .local/dashboard.png (and docs/dashboard.png) for people to look at.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from samples.heart.model import sample_files
from tools.events import blob_created_event

SCREENSHOT = Path(__file__).resolve().parents[2] / ".local" / "dashboard.png"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
KEY = "local-dashboard-key"


def post_events(devhost, landed: list[dict]) -> None:
    events = [blob_created_event(x["url"], x["etag"], content_length=x["content_length"]) for x in landed]
    answer = httpx.post(f"{devhost.base_url}/runtime/webhooks/eventgrid?functionName=on_blob_created",
                        json=events, headers={"aeg-event-type": "Notification"}, timeout=30)
    assert answer.status_code == 202, answer.text


def land(stack, devhost, folder: str) -> None:
    stack.folder = folder
    post_events(devhost, stack.upload_sample(sample_files()[:2]) + [stack.upload("_SUCCESS", b"")])


def wait_for_runs(devhost, count: int, timeout_s: float = 90.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = httpx.get(f"{devhost.base_url}/api/runs", headers={"x-functions-key": KEY}, timeout=30).json()["runs"]
        if len(runs) >= count and all(r["status"] != "Running" for r in runs):
            return runs
        assert time.monotonic() < deadline, f"runs did not end: {json.dumps(runs)[:500]}"
        time.sleep(0.3)


def test_the_dashboard_shows_runs_of_a_real_flow(stack, devhost, browser):
    land(stack, devhost, f"{stack.folder}-ok")
    wait_for_runs(devhost, 1)
    stack.emulator.emulator.faults.apply({"jobs": [{"effect": "fail", "message": "Injected: node lost"}]})
    land(stack, devhost, f"{stack.folder.rsplit('-', 1)[0]}-bad")
    runs = wait_for_runs(devhost, 2)
    by_status = {r["status"]: r for r in runs}
    assert set(by_status) == {"Succeeded", "Failed"}, runs

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{devhost.base_url}/api/dashboard?code={KEY}")
    page.wait_for_selector("tbody tr[data-run]")

    # counts by status and route
    assert page.inner_text("[data-status=all] b") == "2"
    assert page.inner_text("[data-status=Succeeded] b") == "1"
    assert page.inner_text("[data-status=Failed] b") == "1"
    assert "heart" in page.inner_text("[data-route=heart]")
    # the table: both runs, with folder, job and delivered files
    rows = page.locator("tbody tr[data-run]")
    assert rows.count() == 2
    ok_row = page.locator(f"tr[data-run='{by_status['Succeeded']['run_id']}']")
    assert "-ok" in ok_row.inner_text() and "Succeeded" in ok_row.inner_text()
    assert "1 sink" in ok_row.inner_text()

    # filters: by status, by text
    page.select_option("#f-status", "Failed")
    assert rows.count() == 1 and "Failed" in rows.first.inner_text()
    page.select_option("#f-status", "")
    page.fill("#f-text", "-ok")
    assert rows.count() == 1 and "Succeeded" in rows.first.inner_text()
    page.fill("#f-text", "no-such-folder")
    assert page.locator("tbody tr[data-run]").count() == 0
    page.fill("#f-text", "")

    # trends: runs over time stacked by status, duration per route, the now/retries/sweep tiles
    page.wait_for_selector("#chart-runs rect[data-status]")
    assert page.locator("#chart-runs rect[data-status=Succeeded]").count() == 1
    assert page.locator("#chart-runs rect[data-status=Failed]").count() == 1
    assert page.locator("#chart-durations rect[data-route=heart]").count() == 1
    assert "Succeeded 1" in page.inner_text("#trend-legend") and "Failed 1" in page.inner_text("#trend-legend")
    assert page.inner_text("#t-running b") == "0" and page.inner_text("#t-queued b") == "0"
    assert page.inner_text("#t-repairs b") == "0" and page.inner_text("#t-poison b") == "0"
    stats = httpx.get(f"{devhost.base_url}/api/runs/stats", headers={"x-functions-key": KEY}, timeout=30).json()
    assert stats["totals"]["Succeeded"] == 1 and stats["totals"]["Failed"] == 1
    assert [(d["route"], d["runs"]) for d in stats["durations"]] == [("heart", 2)]
    assert sum(b["Succeeded"] + b["Failed"] for b in stats["series"]) == 2

    # one failed run: its timeline and error text
    page.click(f"tr[data-run='{by_status['Failed']['run_id']}']")
    page.wait_for_selector("#run-error")
    assert "Injected: node lost" in page.inner_text("#run-error")
    timeline = page.inner_text("#timeline")
    assert "submitted" in timeline and "Failed" in timeline
    assert "open in Azure ML studio" in page.inner_text("#detail")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    DOCS_SCREENSHOT.write_bytes(SCREENSHOT.read_bytes())  # committed: what the README shows
    assert errors == [], errors
    page.close()


def test_the_dashboard_page_is_self_contained(stack, devhost):
    answer = httpx.get(f"{devhost.base_url}/api/dashboard", timeout=30)
    assert answer.status_code == 200
    html = answer.text
    for outside in ("https://cdn", "<script src", "<link rel=\"stylesheet\"", "@import", "fonts.googleapis"):
        assert outside not in html
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "local-dashboard-key" not in html

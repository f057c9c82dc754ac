"""Headless Chromium (Debian's /usr/bin/chromium through Playwright): the offline report and the live dashboard.

Screenshots go to the test's tmp folder (report_600.png, report_1400.png, dashboard_600.png).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.chain import free_port
from tests.service.support import short_config

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token-0123456789"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        message = "Debian chromium is not installed (make test installs it: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def test_report_renders_offline_and_fits_600px(browser: Any, tmp_path: Path) -> None:
    from keel.runtime import run_simulation

    run_simulation(short_config(tmp_path, hours=0.5), out=tmp_path / "out")
    report = tmp_path / "out" / "report.html"
    for width in (600, 1400):
        page = browser.new_page(viewport={"width": width, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r, seen=requests: seen.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-charts-ready='1']", timeout=30_000)
        assert [u for u in requests if u != report.as_uri()] == []  # the page fetches nothing, not even its script
        for key in ("pnl", "delta", "margin", "base_fee", "price"):
            assert page.locator(f"#chart-{key} .main-svg").count() >= 1, key
        # stacked attribution bars and the total line; labelled axes on the margin and base-fee charts
        assert page.locator("#chart-pnl .barlayer .point").count() > 10
        assert page.locator("#chart-pnl .scatterlayer .trace").count() >= 1
        assert "maintenance margin" in (page.locator("#chart-margin .ytitle").text_content() or "")
        assert "gwei" in (page.locator("#chart-base_fee .ytitle").text_content() or "")
        assert page.locator("#chart-base_fee .xtitle").text_content() == "time (UTC)"
        assert page.locator("table.blotter tr").count() > 3
        assert page.get_by_text("Equity and risk").count() == 1 and page.get_by_text("max drawdown").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        page.screenshot(path=str(tmp_path / f"report_{width}.png"), full_page=True)
        page.close()
    assert (tmp_path / "report_600.png").stat().st_size > 10_000


class _Throttle:
    """A subscriber that holds each block 5 ms, so that even a fast machine cannot finish 7,200 blocks in under 36 s."""

    def on_event(self, topic: str, event: object) -> None:
        pass

    def on_snapshot(self, snapshot: object) -> None:
        time.sleep(0.005)

    def on_end(self, summary: dict[str, Any]) -> None:
        pass


def test_dashboard_follows_a_run_and_the_kill_switch_needs_the_token(browser: Any, tmp_path: Path) -> None:
    from keel.service import simulate_with_service
    from keel.sim.config import load_config
    from keel.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'keel.db'}")
    config_path = short_config(tmp_path, hours=24.0)  # 7,200 blocks: long enough to watch, killed early
    config = load_config(config_path)
    port = free_port()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def on_ready(service: Any, live: Any) -> None:
        box["live"] = live
        ready.set()

    def run() -> None:
        try:
            box["summary"] = simulate_with_service(
                config,
                config_path=config_path,
                out=tmp_path / "runs",
                port=port,
                token=TOKEN,
                store=store,
                on_ready=on_ready,
                subscribers=[_Throttle()],
            )
        except BaseException as exc:  # surfaced below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(60) and "error" not in box, box.get("error")
    run_id = box["live"].run_id
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page(viewport={"width": 600, "height": 1000})
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{base}/?run={run_id}")
    page.wait_for_function("Number(document.body.dataset.block || -1) > 0", timeout=60_000)
    first_block = int(page.evaluate("document.body.dataset.block"))
    page.wait_for_function("Number(document.body.dataset.pnlPoints || 0) > 0", timeout=30_000)
    first_x = page.evaluate("document.body.dataset.pnlX")  # the PnL figure's last time
    page.wait_for_function(f"Number(document.body.dataset.block) > {first_block + 20}", timeout=60_000)
    page.wait_for_function(f"document.body.dataset.pnlX > {first_x!r}", timeout=30_000)  # the figure moved on
    assert page.locator("#chart-pnl .main-svg").count() >= 1 and page.locator("#chart-margin .main-svg").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 600
    # the book's Greeks from the block messages: a short call strip earns theta and is short gamma and vega
    page.wait_for_function("Number(document.body.dataset.theta || 0) > 0", timeout=30_000)
    assert page.locator("#gamma").inner_text().startswith("-") and page.locator("#vega").inner_text().startswith("-")
    assert page.locator("#net-delta").inner_text() != "n/a"
    page.screenshot(path=str(tmp_path / "dashboard_600.png"), full_page=True)

    # without the token: 401 from the API and from the button, and the run goes on
    assert httpx.post(f"{base}/api/runs/{run_id}/kill").status_code == 401
    page.click("#kill")
    page.wait_for_function("document.body.dataset.control === '401'", timeout=10_000)
    assert "401" in page.locator("#control-result").inner_text()
    before = int(page.evaluate("document.body.dataset.block"))
    page.wait_for_function(f"Number(document.body.dataset.block) > {before}", timeout=30_000)
    assert box["live"].status == "running"

    # with the token the kill switch stops the run: status killed, in the store too
    page.fill("#token", TOKEN)
    page.click("#kill")
    page.wait_for_function("document.body.dataset.control === '200'", timeout=10_000)
    thread.join(60)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    assert box["summary"]["status"] == "killed" and box["summary"]["blocks"] < 7200
    assert store.run(run_id).status == "killed"
    assert outside == []  # the dashboard loads nothing from outside the service
    page.close()
    store.close()

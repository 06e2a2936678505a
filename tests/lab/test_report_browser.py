"""The demo's report.html in headless Chromium (Debian ``chromium`` driven by Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kleptolab.lab.demo import DemoOutcome

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECTIONS = ("summary", "timeline", "prng-draws", "unlocks", "keys", "plaintext", "detectors", "recovery-work",
            "patched")

pytestmark = [pytest.mark.slow, pytest.mark.network]


def test_report_renders_in_chromium(
    default_demo: tuple[DemoOutcome, int, int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium; CI installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    outcome, _, _ = default_demo
    report = outcome.out / "report.html"
    shots = tmp_path_factory.mktemp("report-screenshots")
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            assert page.title().startswith("kleptolab")
            for section in SECTIONS:
                node = page.locator(f"section#{section}")
                assert node.count() == 1, section
                assert node.is_visible(), section
                assert len(node.inner_text().strip()) > 40, section
            assert page.locator("section#problems").count() == 0
            # the plaintext table: every row of the backdoored phase is a match
            rows = page.locator("section#plaintext tbody tr")
            assert rows.count() == 6
            assert page.locator("section#plaintext tbody tr.match").count() == 6
            assert "wire 1,250,000 USD" in page.locator("section#plaintext").inner_text()
            # the recovery plot is an inline SVG with one bar per responder nonce, swept or predicted
            # (both phases)
            bars = page.locator("section#recovery-work svg rect")
            assert bars.count() == len(outcome.run.backdoored.recovery) + len(outcome.run.patched.recovery)  # type: ignore[union-attr]
            box = page.locator("section#recovery-work svg").bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 40
            summary = page.locator("section#summary").inner_text()
            assert "6.3.0r20" in summary and "6.3.0r21" in summary and "decrypted" in summary
            detectors = page.locator("section#detectors").inner_text()
            for tool in ("scan", "diff", "logs", "advisory", "fingerprint"):
                assert tool in detectors
            assert "rejected" in page.locator("section#patched").inner_text()
            page.screenshot(path=str(shots / "report-top.png"))
            page.screenshot(path=str(shots / "report-full.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
    # self-contained: nothing but the file itself was fetched
    assert requests and all(url.startswith("file://") for url in requests)
    assert (shots / "report-full.png").stat().st_size > 10_000
    if os.environ.get("KLEPTOLAB_KEEP_SCREENSHOTS"):
        target = Path(os.environ["KLEPTOLAB_KEEP_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        for png in shots.iterdir():
            (target / png.name).write_bytes(png.read_bytes())

"""`persona serve` in a real browser: Debian's Chromium, driven by Selenium through the system
chromedriver (no browser download). The review flow end to end, the evidence dialog, the
one-page print view, and a conflicting second edit."""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.decisions import load_store
from agent.review import set_field
from agent.workspace import Workspace

from ._render_helpers import make_workspace
from ._serve_helpers import Running, add_named_interview, running

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="Debian's chromium and chromium-driver are not installed (/usr/bin/chromium, "
    "/usr/bin/chromedriver); `apt-get install chromium chromium-driver`",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager must never look for a browser or driver download.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Workspace, Running]]:
    ws = make_workspace(tmp_path / "ws")
    add_named_interview(ws)
    with running(ws) as srv:
        yield ws, srv


def errors(driver: Any) -> list[str]:
    """Console errors, but the refused edit's own 409 (the conflict page is that answer)."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "status of 409" not in e["message"]
    ]


def review(driver: Any, target: str, action: str, **fields: str) -> None:
    """Open the review form of one field or item, fill it in and press the action's button."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f'details.rv[data-target="{target}"]')
    click(driver, box.find_element(By.TAG_NAME, "summary"))
    for name, value in fields.items():
        field = box.find_element(By.NAME, name)
        if field.tag_name == "select":  # a value picked from a few (an emotion, -2..2)
            from selenium.webdriver.support.ui import Select

            Select(field).select_by_value(value)
            continue
        field.clear()
        field.send_keys(value)
    click(driver, box.find_element(By.CSS_SELECTOR, f'button[name="action"][value="{action}"]'))


def click(driver: Any, element: Any) -> None:
    """Bring an element to the middle of the window (clear of the sticky bar), then click it."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element
    )
    element.click()


def item(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def test_review_flow_in_the_browser(site: tuple[Workspace, Running], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    ws, srv = site
    wait = WebDriverWait(browser, 20)
    browser.get(srv.base + "/")
    assert "Dana, the Month-End Closer" in browser.find_element(By.CSS_SELECTOR, ".cards").text
    # Open a persona from its card.
    browser.find_element(By.LINK_TEXT, "Dana, the Month-End Closer").click()
    wait.until(ec.url_contains("/p/dana"))
    goal = item(browser, "r-goals-1")
    assert goal.find_element(By.CSS_SELECTOR, ".origin").text == "model"

    # Confirm one item.
    review(browser, "goals.1", "confirm", by="Ana")
    wait.until(ec.url_contains("#r-goals-1"))
    assert "✓ Ana" in item(browser, "r-goals-1").find_element(By.CSS_SELECTOR, ".origin").text

    # Correct one pain point, with a name and a comment.
    review(
        browser,
        "pain_points.0.workaround",
        "correct",
        text="Calls the bank and re-imports the statement",
        by="Ana",
        comment="Heard in the follow-up call",
    )
    wait.until(ec.url_contains("#r-pain_points-0-workaround"))
    part = item(browser, "r-pain_points-0-workaround")
    tag = part.find_element(By.CSS_SELECTOR, ".origin")
    assert "Calls the bank and re-imports the statement" in part.text
    assert tag.get_attribute("data-origin") == "human" and tag.text == "✎ Ana"
    assert "Heard in the follow-up call" in (tag.get_attribute("title") or "")
    # The neighbouring parts are still the drafter's.
    impact = item(browser, "r-pain_points-0-impact").find_element(By.CSS_SELECTOR, ".origin")
    assert impact.get_attribute("data-origin") == "model"

    # Reload: both decisions persisted (in the store the CLI shares).
    browser.refresh()
    assert "✎ Ana" in item(browser, "r-pain_points-0-workaround").text
    assert "✓ Ana" in item(browser, "r-goals-1").text
    stored = load_store(ws).personas["p-dana"].fields
    assert stored["pain_points[theme:t-sync].workaround"].comment == "Heard in the follow-up call"

    # Evidence is one click away, in its context.
    click(browser, browser.find_element(By.CSS_SELECTOR, "#r-role sup.cite a"))
    dialog = wait.until(ec.visibility_of_element_located((By.ID, "evidence-dialog")))
    wait.until(lambda d: "bank sync drops half" in dialog.text)
    assert "turn at line 12" in dialog.text and "How does month-end go for you" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, ".dialog-close button").click()

    # A second reviewer's stale page: their edit of the same item is refused, not applied.
    set_field(ws, "Dana", "summary", correct="Runs finance alone", by="Bo", comment="per CEO")
    review(browser, "summary", "confirm", by="Ana")
    notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice-conflict")))
    assert "someone else changed this first" in notice.text
    assert "corrected by Bo" in notice.text and "per CEO" in notice.text
    assert load_store(ws).personas["p-dana"].fields["summary"].by == "Bo"

    # The journey map: its parts have the same review controls.
    browser.get(srv.base + "/p/dana/journey")
    review(browser, "journey.stages.3.emotion", "correct", text="1", by="Ana")
    wait.until(ec.url_contains("#r-journey-stages-3-emotion"))
    tag = item(browser, "r-journey-stages-3-emotion").find_element(By.CSS_SELECTOR, ".origin")
    assert tag.get_attribute("data-origin") == "human" and tag.text == "✎ Ana"
    assert errors(browser) == []


def test_one_page_view_prints_to_a_single_pdf_page(
    site: tuple[Workspace, Running], browser: Any
) -> None:
    _, srv = site
    browser.get(srv.base + "/p/dana/print")
    assert "Dana, the Month-End Closer" in browser.title
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 1, f"the one-page view printed on {pages} pages"
    assert errors(browser) == []


def test_share_toggle_and_theme_rename_in_the_browser(
    site: tuple[Workspace, Running], browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, srv = site
    browser.get(srv.base + "/themes")
    row = browser.find_element(By.ID, "t-t-sync")
    click(browser, row.find_element(By.TAG_NAME, "summary"))
    label = row.find_element(By.NAME, "label")
    label.clear()
    label.send_keys("Bank feed drops")
    click(browser, row.find_element(By.CSS_SELECTOR, 'button[value="rename"]'))
    # The row is replaced when the page reloads after the POST.
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "Bank feed drops" in d.find_element(By.ID, "t-t-sync").text
    )
    assert "renamed by Tester" in browser.find_element(By.ID, "t-t-sync").text
    # Share mode for this browser: names replaced, review controls gone.
    browser.get(srv.base + "/evidence?ref=chunk:c-sync")
    assert "Dana Whitfield" in browser.page_source
    browser.find_element(By.LINK_TEXT, "Share mode: off").click()
    WebDriverWait(browser, 20).until(lambda d: "Share mode: on" in d.page_source)
    assert "Whitfield" not in browser.page_source
    browser.get(srv.base + "/p/dana")
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, "details.rv") if e.is_displayed()]
    assert errors(browser) == []

"""Headless Chromium against the real app: ask, see numbered sources with highlighted
passages, rate the answer, and save a screenshot to tests/artifacts/ui.png.

Needs the Debian packages chromium and chromium-driver (tests/browser/install_chromium.sh)
and the Python package selenium; Selenium Manager is never used (no downloads).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest

from app_server import ROOT, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACT = ROOT / "tests" / "artifacts" / "ui.png"
FAILURE = ROOT / "tests" / "artifacts" / "ui-failure.png"
CASARANO_TITLE = "Piano sociale di zona 2022-2024 dell'Ambito di Casarano (LeccePrima)"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1400,1700", "--lang=it-IT")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium o chromedriver non installati: eseguire "
                    "tests/browser/install_chromium.sh (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium non installato (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("browser")) as info:
        yield info


def _wait(browser, condition, timeout=90):
    """Poll ``condition`` (elements re-found at each poll, so re-renders do not matter);
    on time-out keep a screenshot of the page for diagnosis."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, timeout, poll_frequency=0.2,
                             ignored_exceptions=[StaleElementReferenceException]
                             ).until(condition)
    except TimeoutException:
        FAILURE.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(FAILURE))
        raise


def test_ask_see_sources_rate_and_screenshot(app, driver):
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    driver.get(app["url"])
    box = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    assert "Assistente per i piani sociali di zona" in driver.page_source
    box.send_keys("Che servizi ci sono per gli anziani a Matino?")
    driver.find_element(By.CSS_SELECTOR, "#invia").click()
    titles = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chat .fonte-titolo"))
    assert titles[0].text == CASARANO_TITLE
    assert "fa parte dell" in driver.find_element(By.CSS_SELECTOR, "#chat .avviso").text
    assert driver.find_elements(By.CSS_SELECTOR, "#chat .fonte-num")[0].text == "1"
    # the passage of source 1 opens with its supporting sentences highlighted
    driver.find_element(By.CSS_SELECTOR, "#chat .fonte details summary").click()
    marks = _wait(driver, lambda d: [m for m in d.find_elements(By.CSS_SELECTOR, "#chat mark")
                                     if m.is_displayed()])
    assert marks[0].text.strip()
    link = driver.find_element(By.CSS_SELECTOR, "#chat a.doc-link")
    assert "/documenti/" in link.get_attribute("href")
    assert link.get_attribute("target") == "_blank"
    # every asset came from the app itself: no CDN, no web fonts from outside
    external = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))")
    assert external == []
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACT))
    print(f"\nscreenshot: {ARTIFACT} ({time.monotonic() - started:.1f} s from page load)")

    # thumbs up, then a comment: both end up in the feedback database
    driver.find_element(By.CSS_SELECTOR, "#chat button[aria-label='Like']").click()
    status = "#esito-valutazione"
    _wait(driver, lambda d: "Grazie" in d.find_element(By.CSS_SELECTOR, status).text)
    comment = _wait(driver, lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, "textarea")
                                       if t.is_displayed()
                                       and "Non inserisca dati" in
                                       (t.get_attribute("placeholder") or "")])[0]
    comment.send_keys("Utile, mi chiami al 333 1234567")
    next(b for b in driver.find_elements(By.TAG_NAME, "button")
         if b.text == "Invia commento").click()
    _wait(driver, lambda d: "Commento registrato" in d.find_element(By.CSS_SELECTOR, status).text)
    with sqlite3.connect(app["feedback_db"]) as db:
        rows = db.execute("SELECT rating, question, comment FROM feedback").fetchall()
    assert rows == [("up", "Che servizi ci sono per gli anziani a Matino?",
                     "Utile, mi chiami al [TELEFONO]")]


def test_document_page_opens_at_the_passage(app, driver):
    from selenium.webdriver.common.by import By

    driver.get(app["url"])
    box = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    box.send_keys("Cos'è il PUA?")
    driver.find_element(By.CSS_SELECTOR, "#invia").click()
    link = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#chat a.doc-link"))
    driver.get(link.get_attribute("href"))
    passage = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "mark#passaggio"))
    assert passage.is_displayed() and passage.text.strip()
    assert driver.find_elements(By.TAG_NAME, "script") == []


def test_staff_upload_indexes_a_new_document(app, driver, tmp_path):
    from selenium.webdriver.common.by import By

    new = tmp_path / "Sportello Arcobaleno.txt"
    new.write_text("Lo sportello Arcobaleno offre orientamento ai servizi per famiglie.",
                   encoding="utf-8")
    bad = tmp_path / "programma.exe"
    bad.write_bytes(b"MZ binario")
    driver.get(app["url"])
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    next(t for t in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]")
         if t.text.startswith("Documenti")).click()
    upload = _wait(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, "input[type=file][data-testid$='-upload-button']"))
    upload.send_keys(f"{new}\n{bad}")
    summary = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".caricamento"))
    assert "Sportello Arcobaleno.txt" in summary.text
    assert "programma.exe: formato non supportato (.exe)" in summary.text
    assert "1 file indicizzati" in summary.text
    _wait(driver, lambda d: "Sportello Arcobaleno.txt" in
          d.find_element(By.CSS_SELECTOR, "#tabella-documenti").text)
    assert (app["workdir"] / "corpus" / "Sportello Arcobaleno.txt").is_file()
    assert not (app["workdir"] / "corpus" / "programma.exe").exists()

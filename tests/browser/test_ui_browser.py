"""Headless Chromium against the real app (``python app.py``: public and operator apps),
at desktop (1366×900) and phone (390×844) sizes: every tab used as a citizen or an
operator would, with no horizontal overflow, an axe-core audit (zero serious or critical
violations), the contrast of every text, Italian labels, keyboard tabs, [n] links, and a
full-page screenshot of each tab in tests/artifacts/ (git-ignored), with the figures in
tests/artifacts/a11y.json.

Needs the Debian packages chromium and chromium-driver (tests/browser/install_chromium.sh,
which also fetches axe-core from npm; else the copy inside axe-selenium-python is used)
and the Python package selenium; Selenium Manager is never used (no downloads).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from app_server import ACCESSIBILITY_FEEDBACK, ACCESSIBILITY_URL, OPERATORS, ROOT, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
FAILURE = ARTIFACTS / "ui-failure.png"
FIGURES = ARTIFACTS / "a11y.json"
CASARANO_TITLE = "Piano sociale di zona 2022-2024 dell'Ambito di Casarano (LeccePrima)"
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--hide-scrollbars", "--lang=it-IT")
# Gradio's own English labels that must not reach an Italian user
ENGLISH = ("Clear", "Copy message", "Like", "Dislike", "More tabs", "chatbot conversation",
           "Chatbot", "Copy", "Loading", "Loading content", "Loading response")
ENGLISH_PREFIXES = ("user's message", "bot's message", "queue:", "processing")


def axe_source() -> str:
    candidates = [Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"]
    try:
        import axe_selenium_python

        candidates.append(Path(axe_selenium_python.__file__).parent / "node_modules"
                          / "axe-core" / "axe.min.js")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.skip("axe-core non trovato: eseguire tests/browser/install_chromium.sh "
                "o pip install axe-selenium-python")


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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(60)
    browser.set_script_timeout(60)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("browser")) as info:
        yield info


@pytest.fixture(scope="module")
def figures():
    """Per page and size: axe violations by impact, the lowest text contrast, overflow."""
    data: dict[str, dict] = {}
    yield data
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    old = json.loads(FIGURES.read_text(encoding="utf-8")) if FIGURES.is_file() else {}
    FIGURES.write_text(json.dumps({**old, **data}, indent=1, ensure_ascii=False),
                       encoding="utf-8")


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


# ---- what every page is checked for ------------------------------------------------------
CONTRAST_JS = """
function parse(c){var m=c.match(/rgba?\\(([^)]+)\\)/); if(!m) return null;
  var p=m[1].split(',').map(Number); return [p[0],p[1],p[2],p.length>3?p[3]:1];}
function lum(c){return [0,1,2].map(function(i){var v=c[i]/255;
  return v<=0.03928?v/12.92:Math.pow((v+0.055)/1.055,2.4);}).reduce(function(s,v,i){
  return s+v*[0.2126,0.7152,0.0722][i];},0);}
function blend(top,bottom){var a=top[3];return [0,1,2].map(function(i){
  return top[i]*a+bottom[i]*(1-a);}).concat([1]);}
function background(el){var layers=[];for(var e=el;e;e=e.parentElement){
  var cs=getComputedStyle(e); if(cs.backgroundImage!=='none') return null;
  var b=parse(cs.backgroundColor); if(b&&b[3]>0){layers.push(b); if(b[3]>=1) break;}}
  var c=[255,255,255,1]; for(var i=layers.length-1;i>=0;i--) c=blend(layers[i],c); return c;}
function opacity(el){var o=1;for(var e=el;e;e=e.parentElement) o*=Number(getComputedStyle(e).opacity);return o;}
var worst=[],count=0,min=99,walker=document.createTreeWalker(document.body,NodeFilter.SHOW_TEXT);
while(walker.nextNode()){var node=walker.currentNode; if(!node.textContent.trim()) continue;
  var el=node.parentElement; if(!el||!el.getClientRects().length) continue;
  var cs=getComputedStyle(el); if(cs.visibility==='hidden'||cs.display==='none') continue;
  var r=el.getBoundingClientRect(); if(r.width<2||r.height<2) continue;
  if(el.closest('.vh,[aria-hidden=true],svg,style,script')) continue;
  var fg=parse(cs.color), bg=background(el); if(!fg||!bg) continue;
  fg=blend([fg[0],fg[1],fg[2],fg[3]*opacity(el)],bg);
  var l1=lum(fg),l2=lum(bg),ratio=(Math.max(l1,l2)+0.05)/(Math.min(l1,l2)+0.05);
  count++; if(ratio<min) min=ratio;
  if(ratio<4.5) worst.push([ratio.toFixed(2),node.textContent.trim().slice(0,40),cs.color]);}
return {min: Math.round(min*100)/100, texts: count, below: worst.slice(0,10)};
"""


def check_page(browser, figures, name: str, size: str) -> dict:
    """Overflow, axe, contrast and a full-page screenshot; returns the figures."""
    time.sleep(0.3)  # let the last re-render settle before measuring
    width = browser.execute_script("return document.documentElement.scrollWidth")
    inner = browser.execute_script("return document.documentElement.clientWidth")
    assert width <= inner + 1, f"{name} ({size}): the page is {width} px wide in {inner} px"
    browser.execute_script(axe_source())
    results = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done("
        "r.violations.map(function (v) { return {id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(' ') + ' | '"
        " + (n.failureSummary || '').slice(0, 240); })}; })); });")
    impacts = {}
    for violation in results:
        impacts[violation["impact"]] = impacts.get(violation["impact"], 0) + 1
    contrast = browser.execute_script(CONTRAST_JS)
    shot = ARTIFACTS / f"{name}-{size}.png"
    _full_page_screenshot(browser, shot)
    figures[f"{name}-{size}"] = {"axe": impacts, "axe_rules": sorted(v["id"] for v in results),
                                 "contrast_min": contrast["min"], "texts": contrast["texts"],
                                 "below_4_5": contrast["below"], "screenshot": str(shot)}
    serious = [v for v in results if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name} ({size}): " + json.dumps(serious, ensure_ascii=False, indent=1)
    assert contrast["min"] >= 4.5, f"{name} ({size}): {contrast['below']}"
    labels = browser.execute_script(
        "var out = [];"
        "document.querySelectorAll('[aria-label],[title]').forEach(function (e) {"
        " out.push(e.getAttribute('aria-label') || ''); out.push(e.getAttribute('title') || '');"
        "});"
        "document.querySelectorAll('button,label,span').forEach(function (e) {"
        " if (e.offsetParent !== null && e.childElementCount === 0) out.push(e.textContent.trim());"
        "});"
        "return out;")
    english = sorted(set(labels) & set(ENGLISH))
    english += [label for label in labels if label.startswith(ENGLISH_PREFIXES)]
    assert not english, f"{name} ({size}): English labels {english}"
    return figures[f"{name}-{size}"]


def _full_page_screenshot(browser, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
                 "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def _open_tab(browser, tab_id: str) -> None:
    from selenium.webdriver.common.by import By

    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#{tab_id}-button")).click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#{tab_id}").is_displayed())


def _ask(browser, question: str) -> None:
    from selenium.webdriver.common.by import By

    box = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    box.send_keys(question)
    browser.find_element(By.CSS_SELECTOR, "#invia").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chat .fonte-titolo"))
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#chat [role=log], #chat")
          .get_attribute("aria-busy") == "false")


def _choose(browser, selector: str, text: str) -> None:
    """Pick ``text`` in a Gradio dropdown by typing it and taking the first option."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"{selector} input"))
    box.click()
    box.send_keys(text)
    _wait(browser, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "li[role=option]")
                              if text in o.text])
    box.send_keys(Keys.ENTER)


def _login(browser, app, name: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(app["operator_url"])
    _wait(browser, lambda d: d.find_element(By.ID, "nome"))
    assert browser.current_url.endswith("/accesso")
    browser.find_element(By.ID, "nome").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(OPERATORS[name][0])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, lambda d: "Accesso come" in d.find_element(By.ID, "chi-accede").text)


# ---- the public app ----------------------------------------------------------------------
@pytest.mark.parametrize("size", list(SIZES))
def test_public_tabs_at_both_sizes(app, driver, figures, size):
    from selenium.webdriver.common.by import By

    driver.set_window_size(*SIZES[size])
    driver.get(app["url"])
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    assert driver.execute_script("return document.documentElement.lang") == "it"
    check_page(driver, figures, "pubblico-chiedi-vuota", size)
    _ask(driver, "Che servizi ci sono per gli anziani a Matino?")
    # "Nuova conversazione" sits just under the question box, not at the page's bottom
    box = driver.find_element(By.CSS_SELECTOR, "#domanda textarea").rect
    new_chat = driver.find_element(By.CSS_SELECTOR, "#nuova-conversazione").rect
    assert 0 <= new_chat["y"] - (box["y"] + box["height"]) < 120
    assert driver.find_element(By.ID, "avviso-ia").text.startswith("Sistema automatico")
    footer = {a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, ".piede a")}
    assert footer == {ACCESSIBILITY_URL, ACCESSIBILITY_FEEDBACK}
    check_page(driver, figures, "pubblico-chiedi", size)

    _open_tab(driver, "scheda-servizi")
    next(label for label in driver.find_elements(By.CSS_SELECTOR, "#situazioni label")
         if label.text.startswith("Anziano")).click()
    next(label for label in driver.find_elements(By.CSS_SELECTOR, "#situazioni label")
         if label.text.startswith("Famiglia")).click()
    _choose(driver, "#luogo", "Matino")
    driver.find_element(By.CSS_SELECTOR, "#mostra-servizi").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#servizi-risultati .servizio"))
    check_page(driver, figures, "pubblico-servizi", size)

    _open_tab(driver, "scheda-documenti")
    _wait(driver, lambda d: "Casarano" in d.find_element(By.ID, "elenco-documenti").text)
    links = driver.find_elements(By.CSS_SELECTOR, "#elenco-documenti a")
    assert any("/documenti/casarano_piano_sociale_2022_2024.txt" in (a.get_attribute("href")
                                                                       or "") for a in links)
    # read-only: no upload button (the table's own drop zone only fills the table)
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid$='-upload-button']")
    check_page(driver, figures, "pubblico-documenti", size)


def test_public_chat_and_services_in_dark_mode(app, driver, figures):
    """Gradio follows the system's dark mode; every text stays readable there too."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(*SIZES["desktop"])
    driver.get(app["url"] + "?__theme=dark")
    _ask(driver, "Che servizi ci sono per gli anziani a Matino?")
    assert driver.execute_script("return document.body.classList.contains('dark') || "
                                 "!!document.querySelector('.dark')")
    check_page(driver, figures, "pubblico-chiedi-scuro", "desktop")
    _open_tab(driver, "scheda-servizi")
    next(label for label in driver.find_elements(By.CSS_SELECTOR, "#situazioni label")
         if label.text.startswith("Anziano")).click()
    _choose(driver, "#luogo", "Matino")
    driver.find_element(By.CSS_SELECTOR, "#mostra-servizi").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#servizi-risultati .servizio"))
    check_page(driver, figures, "pubblico-servizi-scuro", "desktop")


def test_tabs_answer_arrow_keys_and_markers_jump_to_their_source(app, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(*SIZES["desktop"])
    driver.get(app["url"])
    first = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#scheda-chat-button"))
    first.send_keys(Keys.ARROW_RIGHT)
    _wait(driver, lambda d: d.switch_to.active_element.get_attribute("id")
          == "scheda-servizi-button")
    assert driver.find_element(By.ID, "scheda-servizi-button") \
        .get_attribute("aria-selected") == "true"
    driver.switch_to.active_element.send_keys(Keys.END)
    _wait(driver, lambda d: d.switch_to.active_element.get_attribute("id")
          == "scheda-documenti-button")
    driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)  # wraps around
    _wait(driver, lambda d: d.switch_to.active_element.get_attribute("id")
          == "scheda-chat-button")
    # tabbing through the filters, an open list never covers its own field's label
    driver.execute_script("document.querySelector('#filtro-comune input').focus()")
    driver.switch_to.active_element.send_keys(Keys.TAB)
    below = _wait(driver, lambda d: d.execute_script(
        "var i = document.activeElement, b = i.closest('.block');"
        "var o = b && b.querySelector('.options'), l = b && b.querySelector('[data-testid=block-info]');"
        "if (!o || !l || !o.getBoundingClientRect().height) return null;"
        "return o.getBoundingClientRect().top >= l.getBoundingClientRect().bottom || null;"),
        timeout=15)
    assert below
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    _ask(driver, "Che servizi ci sono per gli anziani a Matino?")
    marker = driver.find_elements(By.CSS_SELECTOR, "#chat a.rif")[-1]
    target = marker.get_attribute("href").split("#")[1]
    assert "Vai alla fonte" in marker.get_attribute("textContent")  # its name, read aloud
    marker.click()
    _wait(driver, lambda d: d.switch_to.active_element.get_attribute("id") == target)
    assert driver.find_element(By.ID, target).get_attribute("class").startswith("fonte")


def test_ask_see_sources_rate_and_screenshot(app, driver):
    from selenium.webdriver.common.by import By

    driver.set_window_size(*SIZES["desktop"])
    started = time.monotonic()
    driver.get(app["url"])
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#domanda textarea"))
    assert "Assistente per i piani sociali di zona" in driver.page_source
    _ask(driver, "Che servizi ci sono per gli anziani a Matino?")
    titles = driver.find_elements(By.CSS_SELECTOR, "#chat .fonte-titolo")
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
    # the page's CSP blocks nothing the app needs
    blocked = [e["message"] for e in driver.get_log("browser")
               if "Content Security Policy" in e["message"]]
    assert blocked == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "ui.png"))
    print(f"\nscreenshot: {ARTIFACTS / 'ui.png'} ({time.monotonic() - started:.1f} s)")

    # thumbs up (its label in Italian), then a comment: both end up in the database
    driver.find_element(By.CSS_SELECTOR, "#chat button[aria-label='Risposta utile']").click()
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
        rows = db.execute("SELECT rating, comment FROM feedback").fetchall()
    assert rows[-1] == ("up", "Utile, mi chiami al [TELEFONO]")


def test_document_page_opens_at_the_passage(app, driver):
    from selenium.webdriver.common.by import By

    driver.get(app["url"])
    _ask(driver, "Cos'è il PUA?")
    link = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#chat a.doc-link"))
    driver.get(link.get_attribute("href"))
    passage = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "mark#passaggio"))
    assert passage.is_displayed() and passage.text.strip()
    assert driver.find_elements(By.TAG_NAME, "script") == []


# ---- the operator app --------------------------------------------------------------------
@pytest.mark.parametrize("size", list(SIZES))
def test_operator_tabs_at_both_sizes(app, driver, figures, size):
    from selenium.webdriver.common.by import By

    driver.set_window_size(*SIZES[size])
    driver.delete_all_cookies()
    driver.get(app["operator_url"] + "accesso")
    _wait(driver, lambda d: d.find_element(By.ID, "nome"))
    check_page(driver, figures, "operatori-accesso", size)
    _login(driver, app, "anna")
    search = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#parole-chiave textarea, "
                                                                     "#parole-chiave input"))
    search.send_keys("assistenza domiciliare")
    driver.find_element(By.ID, "cerca").click()
    _wait(driver, lambda d: "risultati" in d.find_element(By.ID, "esito-ricerca").text)
    check_page(driver, figures, "operatori-ricerca", size)

    _open_tab(driver, "scheda-gestione")
    _wait(driver, lambda d: "casarano" in d.find_element(By.ID, "tabella-documenti").text)
    check_page(driver, figures, "operatori-documenti", size)

    _open_tab(driver, "scheda-valutazioni")
    driver.find_element(By.ID, "esporta-valutazioni").click()
    _wait(driver, lambda d: "valutazion" in d.find_element(By.ID, "esito-valutazioni").text)
    check_page(driver, figures, "operatori-valutazioni", size)

    _open_tab(driver, "scheda-senza-risposta")
    driver.find_element(By.ID, "aggiorna-senza-risposta").click()
    _wait(driver, lambda d: d.find_element(By.ID, "senza-risposta").text.strip())
    check_page(driver, figures, "operatori-senza-risposta", size)


def test_staff_upload_indexes_a_new_document_and_roles_hold(app, driver, tmp_path):
    from selenium.webdriver.common.by import By

    new = tmp_path / "Sportello Arcobaleno.txt"
    new.write_text("Lo sportello Arcobaleno offre orientamento ai servizi per famiglie.",
                   encoding="utf-8")
    bad = tmp_path / "programma.exe"
    bad.write_bytes(b"MZ binario")
    driver.set_window_size(*SIZES["desktop"])
    driver.delete_all_cookies()
    _login(driver, app, "bruno")  # an "operatore" may search, not change documents
    _open_tab(driver, "scheda-gestione")
    upload = _wait(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, "input[type=file][data-testid$='-upload-button']"))
    upload.send_keys(str(new))
    _wait(driver, lambda d: "non permette" in d.find_element(By.ID, "esito-caricamento").text)
    assert not (app["workdir"] / "corpus" / "Sportello Arcobaleno.txt").exists()

    driver.delete_all_cookies()
    _login(driver, app, "anna")
    _open_tab(driver, "scheda-gestione")
    upload = _wait(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, "input[type=file][data-testid$='-upload-button']"))
    upload.send_keys(f"{new}\n{bad}")
    summary = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".caricamento"))
    assert "Sportello Arcobaleno.txt" in summary.text
    assert "programma.exe" in summary.text and ".exe" in summary.text
    assert "1 file indicizzati" in summary.text
    _wait(driver, lambda d: "Sportello Arcobaleno.txt" in
          d.find_element(By.ID, "tabella-documenti").text)
    assert (app["workdir"] / "corpus" / "Sportello Arcobaleno.txt").is_file()
    assert not (app["workdir"] / "corpus" / "programma.exe").exists()

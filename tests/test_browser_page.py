"""The page for browsers, in real headless Chromium: it loads, shows the meters, and the chart
moves when a reading arrives. The screenshot is kept in test-artifacts/ and named in the output."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import ADMIN

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# tests/install_chromium.sh (run by `make test`) installs both from Debian; without root it can't.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium/chromedriver não instalados (tests/install_chromium.sh precisa de root e apt-get)",
)]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # This machine's network is closed: without these flags Chromium keeps trying Google's hosts.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_page_shows_meters_and_the_chart_moves_when_a_reading_arrives(servidor_json, browser):
    write, _ = servidor_json.create_meter("casa", nome="Casa de teste")
    servidor_json.create_meter("loja", nome="Loja de teste")
    agent = servidor_json.client(write)
    now = int(time.time() * 1000)
    rows = [{"seq": i, "ts": now - (30 - i) * 10_000, "energia_wh": 10.0 * i, "potencia_w": 300 + i} for i in range(30)]
    assert agent.post("/api/v1/medidores/casa/leituras", {"leituras": rows}).status == 200

    browser.get(f"http://127.0.0.1:{servidor_json.port}/#chave={ADMIN}")
    cards = wait_for(lambda: browser.find_elements("css selector", "section.card"))
    names = sorted(c.find_element("css selector", "h2").text for c in cards)
    assert names == ["Casa de teste", "Loja de teste"]
    casa = browser.find_element("css selector", 'section[data-medidor="casa"]')
    wait_for(lambda: casa.get_attribute("data-pontos") == "30")
    assert casa.find_element("css selector", ".power").text == "329 W"
    before = browser.execute_script("return arguments[0].toDataURL()", casa.find_element("css selector", "canvas"))

    assert agent.post("/api/v1/medidores/casa/leituras", {"seq": 30, "ts": now, "energia_wh": 400.0, "potencia_w": 2500}).status == 200
    wait_for(lambda: casa.get_attribute("data-ultimo-seq") == "30")
    assert casa.find_element("css selector", ".power").text == "2.500 W"
    after = browser.execute_script("return arguments[0].toDataURL()", casa.find_element("css selector", "canvas"))
    assert after != before  # the chart was redrawn with the new point

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "painel.png"
    browser.save_screenshot(str(shot))
    print(f"\ncaptura da página: {shot} ({shot.stat().st_size} bytes)")
    assert shot.stat().st_size > 5000


def test_history_chart_has_axes_a_time_scale_and_portuguese_categories(servidor_json, browser):
    """Issue 14 #9: the page had live sparklines only; each meter now has a history chart (24 h,
    31 days, 12 months) with labelled axes, and the category reads "solar", not "pvProd"."""
    write, _ = servidor_json.create_meter("casa", nome="Casa de teste")
    servidor_json.create_meter("telhado", nome="Painéis do telhado", categoria="pvProd")
    agent = servidor_json.client(write)
    hour = 3_600_000
    now = int(time.time() * 1000)
    # Four days of hourly readings, 0,5 kWh an hour, the last one a second ago: every hour of the
    # last 24, the current one included, has readings.
    rows = [{"seq": i, "ts": now - (96 - i) * hour - 1000, "energia_wh": 500.0 * i} for i in range(97)]
    assert agent.post("/api/v1/medidores/casa/leituras", {"leituras": rows}).status == 200

    browser.get(f"http://127.0.0.1:{servidor_json.port}/#chave={ADMIN}")
    casa = wait_for(lambda: browser.find_elements("css selector", 'section[data-medidor="casa"]'))[0]
    telhado = browser.find_element("css selector", 'section[data-medidor="telhado"]')
    assert telhado.find_element("css selector", ".muted").text == "telhado · geração solar"
    chart = casa.find_element("css selector", "canvas.historico")
    wait_for(lambda: chart.get_attribute("data-barras"))
    assert 4 <= int(chart.get_attribute("data-barras")) <= 5  # the days with readings, no bar for the others
    assert int(chart.get_attribute("data-marcas")) >= 5  # dated ticks along the 31 days
    note = casa.find_element("css selector", ".historico-nota").text
    assert note.startswith("kWh por dia: total 4") and "≈ R$" in note and "/kWh" in note

    casa.find_element("css selector", 'button[data-intervalo="hora"]').click()
    wait_for(lambda: casa.get_attribute("data-historico") == "hora" and chart.get_attribute("data-barras") == "24")
    assert casa.find_element("css selector", 'button[data-intervalo="hora"]').get_attribute("aria-pressed") == "true"
    wait_for(lambda: casa.find_element("css selector", ".historico-nota").text.startswith("kWh por hora: total 1"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'end'})", casa.find_element("css selector", ".historico-nota"))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "painel-historico.png"
    browser.save_screenshot(str(shot))
    print(f"\ncaptura do histórico: {shot}")


def test_a_wrong_key_is_reported_on_the_page(servidor_json, browser):
    browser.get(f"http://127.0.0.1:{servidor_json.port}/#chave=errada")
    status = wait_for(lambda: "entrar" in browser.find_element("id", "estado").text and browser.find_element("id", "estado"))
    assert "chave desconhecida" in status.text


def test_004_menu_client_still_gets_json_at_root(servidor_json):
    reply = servidor_json.client().get("/?id=nada")
    assert reply.status == 404 and reply.headers["content-type"].startswith("application/json")
    html = servidor_json.client().get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert html.status == 200 and b"monitor-energia" in html.body


def test_an_analyzers_measurements_and_a_day_chart_on_the_page(servidor_json, browser):
    write, _ = servidor_json.create_meter("quadro", nome="Quadro trifásico")
    agent = servidor_json.client(write)
    now = int(time.time() * 1000)
    rows = [{"seq": i, "ts": now - (10 - i) * 60_000, "energia_wh": 100.0 * i, "potencia_w": 3200,
             "TPF": [220.0 + i, 219.4, 221.7], "IPF": [5.1, 4.8, 4.9, 0.4], "PAT": 3200, "PAP": 3400, "PRT": 900,
             "FPT": 0.94, "FRE": 60.02, "THDV": [2.1, 2.3, 2.0], "CER": 321.5} for i in range(10)]
    assert agent.post("/api/v1/medidores/quadro/leituras", {"leituras": rows}).status == 200

    browser.get(f"http://127.0.0.1:{servidor_json.port}/#chave={ADMIN}")
    card = wait_for(lambda: browser.find_elements("css selector", 'section[data-medidor="quadro"]'))[0]
    table = wait_for(lambda: card.find_element("css selector", "table.medidas").is_displayed() and
                     card.find_element("css selector", "table.medidas"))
    cells = [[c.text for c in row.find_elements("css selector", "td, th")]
             for row in table.find_elements("css selector", "tbody tr")]
    assert cells[0] == ["1", "229,0", "5,10", "—", "—", "—", "—", "2,1", "—"]
    assert cells[3][:3] == ["N", "—", "0,40"]
    assert cells[4] == ["total", "—", "—", "3.200", "3.400", "900", "0,94", "—", "—"]
    assert "Frequência 60,02 Hz" in card.find_element("css selector", ".extras").text
    assert "Energia reativa 321,5 kvarh" in card.find_element("css selector", ".extras").text

    # Live: a new reading changes the table.
    fresh = {**rows[-1], "seq": 10, "ts": now, "TPF": [233.3, 219.4, 221.7]}
    assert agent.post("/api/v1/medidores/quadro/leituras", fresh).status == 200
    wait_for(lambda: "233,3" in table.text)

    from selenium.webdriver.support.ui import Select

    Select(card.find_element("css selector", "label.grafico select")).select_by_value("TPF:0")
    wait_for(lambda: card.get_attribute("data-pontos-dia") == "11")
    assert "agora 233,30" in card.find_element("css selector", ".dia-info").text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "painel-medidas.png"
    browser.set_window_size(1100, 1400)  # the whole card, day chart included
    card.screenshot(str(shot))
    assert shot.stat().st_size > 5000

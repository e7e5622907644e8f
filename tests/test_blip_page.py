"""blipserver's live graph (/blip.html) in real headless Chromium: it shows the power of the last
blink and moves when the next one arrives through the /blip long poll. Screenshot in test-artifacts/."""
from __future__ import annotations

import time

import pytest

from tests.conftest import Running
from tests.test_browser_page import ARTIFACTS, browser, pytestmark, wait_for  # noqa: F401 (fixture, marks)

M = "/api/v1/medidores"


def _blink(running: Running, key: str, seq: int, stamp: int, ms: int) -> None:
    reading = {"seq": seq, "ts": stamp, "energia_wh": float(seq), "pulsos": [[stamp, ms]]}
    assert running.client(key).post(f"{M}/pulsos/leituras", reading).status == 200


def test_the_live_graph_shows_each_blinks_power(servidor_json: Running, browser) -> None:
    write, _ = servidor_json.create_meter("pulsos", publico=True)
    now = int(time.time() * 1000)
    for seq in range(5):  # 1000 imp/kWh, a blink every 3.6 s: 1000 W
        _blink(servidor_json, write, seq, now - (5 - seq) * 3600, 3600)
    browser.get(f"http://127.0.0.1:{servidor_json.port}/blip.html?id=1")
    assert wait_for(lambda: browser.find_element("id", "agora").text == "1000 W")
    hub = servidor_json.app.services.blinks.hub
    assert hub.until_waiting("pulsos", 1, 20)  # the page's long poll is parked on the server
    _blink(servidor_json, write, 5, int(time.time() * 1000), 1800)  # 2000 W
    assert wait_for(lambda: browser.find_element("id", "agora").text == "2000 W")
    assert browser.find_element("id", "estado").text == "ao vivo"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "blip.png"))

"""The API as curl users meet it (curl is the real peer; /usr/bin/curl on these machines)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import ADMIN

CURL = shutil.which("curl")
# curl ships with every Debian image this project runs on; without it these checks cannot run.
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed on this machine")


def curl(port: int, *args: str, path: str) -> tuple[int, str]:
    out = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", *args, f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=20)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def test_curl_creates_a_meter_posts_a_reading_and_reads_it_back(servidor_json):
    port = servidor_json.port
    auth = ("-H", f"Authorization: Bearer {ADMIN}", "-H", "Content-Type: application/json")
    code, body = curl(port, *auth, "-d", '{"id": "curl-1", "nome": "Via curl"}', path="/api/v1/medidores")
    assert code == 201
    write = json.loads(body)["chave_escrita"]
    code, body = curl(port, "-H", f"Authorization: Bearer {write}", "-H", "Content-Type: application/json",
                      "-d", '{"seq": 1, "ts": "2026-10-01T12:00:00-03:00", "energia_wh": 10}',
                      path="/api/v1/medidores/curl-1/leituras")
    assert code == 200 and json.loads(body)["aceitas"] == 1
    code, body = curl(port, *auth, path="/api/v1/medidores/curl-1/leituras")
    assert code == 200 and json.loads(body)["leituras"][0]["ts"] == "2026-10-01T12:00:00-03:00"


def test_curl_chunked_upload_with_expect_continue(servidor_json):
    port = servidor_json.port
    servidor_json.create_meter("ck")
    payload = json.dumps({"id": "outro", "nome": "x" * 50})
    out = subprocess.run(
        [CURL, "-s", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {ADMIN}", "-H", "Content-Type: application/json",
         "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue", "--data-binary", "@-",
         f"http://127.0.0.1:{port}/api/v1/medidores"],
        input=payload, capture_output=True, text=True, timeout=20)
    assert out.stdout.rpartition("\n")[2] == "201"


def test_curl_put_delete_head_and_http10(servidor_json):
    port = servidor_json.port
    servidor_json.create_meter("pd")
    auth = ("-H", f"Authorization: Bearer {ADMIN}", "-H", "Content-Type: application/json")
    code, body = curl(port, *auth, "-X", "PUT", "-d", '{"nome": "Novo nome"}', path="/api/v1/medidores/pd")
    assert code == 200 and json.loads(body)["nome"] == "Novo nome"
    code, body = curl(port, "-I", path="/api/v1/saude")
    assert code == 200 and "content-length:" in body.lower()
    code, body = curl(port, "--http1.0", path="/api/v1/saude")
    assert code == 200 and json.loads(body)["estado"] == "ok"
    code, _ = curl(port, *auth, "-X", "DELETE", path="/api/v1/medidores/pd")
    assert code == 204


def test_curl_sees_json_errors(servidor_json):
    code, body = curl(servidor_json.port, "-X", "PATCH", path="/api/v1/medidores")
    assert code == 405 and json.loads(body)["erro"]["codigo"] == "metodo_nao_permitido"
    code, body = curl(servidor_json.port, path="/api/v1/medidores")
    assert code == 401 and "Bearer" in json.loads(body)["erro"]["mensagem"]

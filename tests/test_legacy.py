"""The 004 clients, byte for byte (as README.md describes them), against a real server."""
from __future__ import annotations

import json
import socket
from pathlib import Path

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import start_server, stop_server

UUID = "3f2b6c1e-8a4d-4e0f-9b7a-2d5c8e1f0a93"
# What 004's medidor.py sends every 10 s: no Content-Length, then it closes without reading.
PAYLOAD = {
    "consumo_atual_kWh": 312, "consumo_kwh": 312, "consumo_total_kWh": 4821,
    "alerta": "22/11/2026 10:00:00 - ALERTA: Consumo muito alto: 312.00 kWh",
    "Fatura_Atual": [{"data_hora": "22/11/2026 09:59:50", "consumo_kwh": 201}] * 80,
    "Valor_da_Fatura": "R$ 2410.50",
}


def send_like_004_meter(port: int, meter_id: str, payload: dict) -> None:
    body = json.dumps(payload).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"POST /{meter_id} HTTP/1.1\r\nHost: localhost:5000\r\n\r\n".encode() + body)
        sock.shutdown(socket.SHUT_WR)  # 004 closes; the body ends there
        sock.settimeout(5)
        while sock.recv(4096):
            pass


def read_like_004_menu(port: int, target: str) -> tuple[bytes, dict]:
    """004's usuario.py: GET without Connection: close, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost:5000\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.rpartition(b"\r\n\r\n")
    return data.split(b"\r\n", 1)[0], json.loads(body)


def test_004_meter_post_without_length_is_stored_and_read_back_by_the_menu_client(servidor):
    send_like_004_meter(servidor.port, UUID, PAYLOAD)  # 80 history entries: 004 broke after ~66
    status, body = read_like_004_menu(servidor.port, f"/?id={UUID}")
    assert status == b"HTTP/1.1 200 OK"
    assert body == {UUID: PAYLOAD}


def test_004_get_without_id_lists_every_legacy_meter(servidor):
    send_like_004_meter(servidor.port, "a", {"consumo_total_kWh": 1})
    send_like_004_meter(servidor.port, "b", {"consumo_total_kWh": 2, "fatura_a_pagar": 1.0, "historico_consumo_kWh": [1]})
    _, body = read_like_004_menu(servidor.port, "/")
    assert body == {"a": {"consumo_total_kWh": 1}, "b": {"consumo_total_kWh": 2, "fatura_a_pagar": 1.0, "historico_consumo_kWh": [1]}}


def test_004_unknown_id_is_404_with_a_json_body(servidor):
    status, body = read_like_004_menu(servidor.port, "/?id=nao-existe")
    assert status.startswith(b"HTTP/1.1 404")
    assert body["erro"]["codigo"] == "nao_encontrado"


def test_legacy_routes_cannot_touch_a_native_meter(servidor):
    servidor.create_meter("nativo")
    send_like_004_meter(servidor.port, "nativo", {"consumo_total_kWh": 999})
    status, _ = read_like_004_menu(servidor.port, "/?id=nativo")
    assert status.startswith(b"HTTP/1.1 404")
    assert servidor.admin.get("/api/v1/medidores/nativo").json["resumo"]["leituras"] == 0


def test_legacy_totals_appear_in_the_native_api(servidor):
    send_like_004_meter(servidor.port, UUID, PAYLOAD)
    legacy = servidor.admin.get("/api/v1/medidores").json["legado"]
    assert legacy == [{**legacy[0], "id": UUID, "legado": True, "consumo_total_kwh": 4821, "valor_fatura": "R$ 2410.50"}]


def test_put_and_delete_work_on_legacy_meters(servidor):
    send_like_004_meter(servidor.port, "velho", {"consumo_total_kWh": 1})
    reply = servidor.client().call("PUT", "/velho", raw=json.dumps({"consumo_total_kWh": 5}).encode())
    assert reply.status == 200
    assert read_like_004_menu(servidor.port, "/?id=velho")[1] == {"velho": {"consumo_total_kWh": 5}}
    assert servidor.client().call("DELETE", "/velho").status == 204
    assert read_like_004_menu(servidor.port, "/?id=velho")[0].startswith(b"HTTP/1.1 404")


def test_sem_legado_turns_the_old_routes_off(tmp_path: Path):
    running = start_server(DocumentStore.open(tmp_path / "db.json"), ReadingStore.open(readings_dir(tmp_path / "db.json")),
                           tmp_path / "db.json", legacy=False)
    try:
        assert running.client().get("/?id=x").status == 404
        assert "legado" not in running.admin.get("/api/v1/medidores").json
    finally:
        stop_server(running)


def test_legacy_routes_answer_405_with_allow_for_other_methods(servidor):
    root = servidor.client().call("TRACE", "/")
    assert root.status == 405 and root.headers["allow"] == "GET, HEAD, OPTIONS"
    assert servidor.client().call("OPTIONS", "/").headers["allow"] == "GET, HEAD, OPTIONS"
    meter = servidor.client().call("PATCH", "/abc")
    assert meter.status == 405 and "POST" in meter.headers["allow"]

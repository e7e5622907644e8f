"""`medidor enviar-eventos`: energy-sensors' replay clients (send_events.py and
send_distributed_events.py): one event line per POST, with a progress bar and a summary.

    medidor enviar-eventos http://127.0.0.1:5000/log/store eventos.txt
    medidor enviar-eventos http://127.0.0.1:5000/log/store eventos.txt --interpretar-em http://127.0.0.1:5001/log/parse

With `--interpretar-em`, each line goes to that parse service first and its JSON answer is what
is stored, as energy-sensors' distributed client did.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from shared import argparse_pt
from shared.http.messages import Response
from shared.http_client import HttpClient

COMMAND = "enviar-eventos"
# Refusals shown one by one in the summary; the rest only counted.
SHOWN_REFUSALS = 10
# A request that takes longer than this is a server in trouble: the line counts as failed.
TIMEOUT_S = 30.0
BAR_WIDTH = 30
# A busy server (429/503) is asked again this many times, waiting what it says (at most this long).
BUSY_RETRIES = 20
MAX_BUSY_WAIT_S = 5.0
TEXT = "text/plain; charset=utf-8"


@dataclass
class Tally:
    total: int = 0
    stored: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"URL inválida (use http://host:porta/caminho): {url}")
    return f"http://{parts.netloc}", parts.path or "/"


def _reason(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")


def _bar(out: TextIO, done: int, total: int) -> None:
    filled = BAR_WIDTH * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}")
    out.flush()


def _send(client: HttpClient, path: str, body: bytes, ctype: str) -> Response:
    """POST, waiting and trying again while the server says it is busy (429/503 with Retry-After)."""
    for _ in range(BUSY_RETRIES):
        answer = client.request("POST", path, body=body, headers=(("content-type", ctype),))
        if answer.status not in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
            return answer
        try:
            wait = float(answer.header("retry-after") or 1)
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.05), MAX_BUSY_WAIT_S))
    return answer


def replay(lines: list[str], store_url: str, parse_url: str | None, progress: TextIO) -> Tally:
    tally = Tally(total=len(lines))
    base, path = _split(store_url)
    parse = _split(parse_url) if parse_url else None
    with HttpClient(base, timeout=TIMEOUT_S) as store, \
            HttpClient(parse[0] if parse else base, timeout=TIMEOUT_S) as parser:
        for number, line in enumerate(lines, start=1):
            try:
                if parse is None:
                    answer = _send(store, path, line.encode("utf-8"), TEXT)
                else:
                    parsed = _send(parser, parse[1], line.encode("utf-8"), TEXT)
                    if parsed.status != 200:
                        (tally.refused if parsed.status < 500 else tally.failed).append((number, _reason(parsed.body)))
                        continue
                    answer = _send(store, path, parsed.body, "application/json")
            except OSError as exc:
                tally.failed.append((number, str(exc)))
                continue
            finally:
                _bar(progress, number, len(lines))
            if answer.status == 200:
                tally.stored += 1
            elif 400 <= answer.status < 500:
                tally.refused.append((number, _reason(answer.body)))
            else:
                tally.failed.append((number, f"HTTP {answer.status}: {_reason(answer.body)}"))
    progress.write("\n")
    return tally


def main(argv: list[str]) -> int:
    parser = argparse_pt.parser(prog=f"medidor {COMMAND}",
                                description="Envia um arquivo de eventos do energy-sensors, uma linha por POST, "
                                            "com barra de progresso e resumo.")
    parser.add_argument("url", help="onde guardar, ex.: http://127.0.0.1:5000/log/store")
    parser.add_argument("arquivo", type=Path, help="arquivo de eventos, uma linha por evento")
    parser.add_argument("--interpretar-em", metavar="URL",
                        help="interpreta cada linha neste serviço (ex.: http://127.0.0.1:5001/log/parse) e guarda "
                             "o JSON que ele devolve")
    args = parser.parse_args(argv)
    try:
        lines = [line for line in args.arquivo.read_text(encoding="utf-8").splitlines() if line.strip()]
        tally = replay(lines, args.url, args.interpretar_em, sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"medidor {COMMAND}: {exc}", file=sys.stderr)
        return 2
    print(f"{tally.total} linhas: {tally.stored} guardadas, {len(tally.refused)} recusadas, "
          f"{len(tally.failed)} sem resposta")
    for number, reason in (tally.refused + tally.failed)[:SHOWN_REFUSALS]:
        print(f"  linha {number}: {reason}")
    return 0 if tally.stored == tally.total else 1

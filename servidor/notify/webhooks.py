"""Alerts leave the server: each alert a meter opens is POSTed as JSON to the meter's webhook URL.

Ingest and housekeeping only put the delivery in a bounded queue (never a wait, never a network
call); one thread the app owns sends them in order, retrying a failed one with capped
exponential backoff (shared/backoff.py). A receiver that answers 2xx has it; 4xx other than 408
and 429 will never take it, so it is given up at once; anything else (5xx, refused, timed out)
is retried up to MAX_ATTEMPTS. Webhook URLs carry secrets in their path or query (Slack, Discord,
ntfy tokens), so logs name only the scheme, host and port.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlsplit

from shared.backoff import Backoff

# Deliveries waiting at most: a receiver down for hours while alerts keep opening must not grow
# the server's memory; past this, new deliveries are dropped and counted (logged).
MAX_QUEUED = 1000
# Attempts per delivery: with 1 s doubling to a 5-min cap, about half an hour of retries.
MAX_ATTEMPTS = 10
RETRY_BASE_S = 1.0
RETRY_CAP_S = 300.0
# One attempt's connect + answer: a slow receiver holds up only the deliveries behind it.
TIMEOUT_S = 10.0
# Answers that mean "try later" among the 4xx (RFC 9110 §15.5.9, RFC 6585 §4).
RETRYABLE_4XX = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}
USER_AGENT = "monitor-energia-webhook/1"
log = logging.getLogger("servidor.webhooks")


def safe_url(url: str) -> str:
    """The URL as logs may show it: scheme, host and port only (the rest may be a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    body: bytes
    what: str  # "alerta <tipo> de <medidor>", for the log


class Permanent(Exception):
    """The receiver refused the delivery for good (a 4xx other than 408/429)."""


def post(url: str, body: bytes, timeout_s: float = TIMEOUT_S) -> None:
    """One attempt. Returns on 2xx; Permanent for a refusal worth no retry; OSError otherwise."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        if 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX:
            raise Permanent(f"recusado com {exc.code}") from None
        raise OSError(f"respondeu {exc.code}") from None


class WebhookSender:
    """Owns its thread: `start()`, `send()` from any thread, `stop()` ends and joins it."""

    def __init__(self, *, max_queued: int = MAX_QUEUED, max_attempts: int = MAX_ATTEMPTS,
                 backoff: Callable[[], Backoff] = lambda: Backoff(RETRY_BASE_S, RETRY_CAP_S),
                 transport: Callable[[str, bytes], None] = post) -> None:
        self._queue: queue.Queue[Delivery] = queue.Queue(max_queued)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._transport = transport
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def send(self, url: str, payload: dict[str, Any], what: str) -> bool:
        """Queue a delivery without waiting; False (and logged) when the queue is full."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self._queue.put_nowait(Delivery(url, body, what))
        except queue.Full:
            self.dropped += 1
            log.warning("webhook para %s descartado (%s): %d entregas já esperam", safe_url(url), what,
                        self._queue.qsize())
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._deliver(delivery)
            except Exception:
                log.exception("falha inesperada ao enviar webhook (%s)", delivery.what)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        backoff = self._backoff()
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._transport(delivery.url, delivery.body)
            except Permanent as exc:
                self.failed += 1
                log.error("webhook para %s não aceito (%s): %s; não será repetido", safe_url(delivery.url),
                          delivery.what, exc)
                return
            except OSError as exc:
                if attempt == self._max_attempts or self._stop.is_set():
                    break
                delay = backoff.next_delay()
                log.warning("webhook para %s falhou (%s): %s; nova tentativa em %.0f s", safe_url(delivery.url),
                            delivery.what, _reason(exc), delay)
                if self._stop.wait(delay):
                    break
                continue
            self.delivered += 1
            log.info("webhook entregue a %s (%s)", safe_url(delivery.url), delivery.what)
            return
        self.failed += 1
        log.error("webhook para %s desistido depois de %d tentativas (%s)", safe_url(delivery.url), attempt,
                  delivery.what)

    def stop(self) -> None:
        """Stop after the delivery in progress (its retries are cut short); what still waits is
        counted in the log, not sent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._queue.qsize():
            log.warning("servidor parando: %d webhooks não enviados", self._queue.qsize())


def _reason(exc: OSError) -> str:
    # urllib's URLError keeps the socket's error in `reason`; neither names the URL.
    return str(getattr(exc, "reason", None) or exc)[:200]

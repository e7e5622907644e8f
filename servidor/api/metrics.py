"""Counters for /metrics, in Prometheus' text exposition format (version 0.0.4).

Written by hand: a dozen series do not need a client library, and the format is plain text.
"""
from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import Callable, Iterable

# Latency buckets in seconds: from a cached GET (~1 ms) to a long poll (up to 55 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency_counts: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = defaultdict(float)
        self.readings_accepted = 0
        self.readings_duplicate = 0
        self.readings_rejected = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status if type(status) is int else int(status))
        bucket = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            self._requests[key] += 1
            counts = self._latency_counts.get(route)
            if counts is None:
                counts = self._latency_counts[route] = [0] * (len(LATENCY_BUCKETS) + 1)
            counts[bucket] += 1
            self._latency_sum[route] += seconds

    def ingested(self, accepted: int, duplicate: int, rejected: int) -> None:
        with self._lock:
            self.readings_accepted += accepted
            self.readings_duplicate += duplicate
            self.readings_rejected += rejected

    def render(self, gauges: Callable[[], dict[str, tuple[str, float]]]) -> str:
        """The exposition text; `gauges` supplies current values (name → (help, value))."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("monitor_requests_total", "counter", "Requisições HTTP atendidas, por rota, método e status.")
            for (route, method, status), count in sorted(self._requests.items()):
                lines.append(f"monitor_requests_total{_labels([('rota', route), ('metodo', method), ('status', str(status))])} {count}")
            family("monitor_request_duration_seconds", "histogram", "Tempo para responder, por rota.")
            for route in sorted(self._latency_counts):
                cumulative = 0
                for bound, count in zip(LATENCY_BUCKETS + (float("inf"),), self._latency_counts[route]):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f"monitor_request_duration_seconds_bucket{_labels([('rota', route), ('le', le)])} {cumulative}")
                lines.append(f"monitor_request_duration_seconds_sum{_labels([('rota', route)])} {self._latency_sum[route]:.6f}")
                lines.append(f"monitor_request_duration_seconds_count{_labels([('rota', route)])} {cumulative}")
            for name, value, help_text in (
                ("monitor_readings_ingested_total", self.readings_accepted, "Leituras gravadas."),
                ("monitor_readings_duplicate_total", self.readings_duplicate, "Leituras recebidas de novo (seq repetido) e não gravadas."),
                ("monitor_readings_rejected_total", self.readings_rejected, "Leituras recusadas por serem inválidas."),
            ):
                family(name, "counter", help_text)
                lines.append(f"{name} {value}")
        for name, (help_text, value) in sorted(gauges().items()):
            family(name, "gauge", help_text)
            lines.append(f"{name} {value:g}")
        return "\n".join(lines) + "\n"

"""energy-sensors' cluster summary: MeanShift over every stored event, on a thread of its own.

As the original did: features (active, reactive, apparent power, current, voltage, the first
three peaks), bandwidth estimated with quantile 0.2 over 200 samples, MeanShift with bin seeding,
events no cluster takes labelled −1. Recomputed each time EVERY more events are stored (and at
start when there are events); a request never waits for it, and the summary is always the last
finished computation.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger("servidor.grupos")

# Events between recomputations, as energy-sensors did; `servidor --grupos-a-cada` changes it.
DEFAULT_EVERY = 1000
# estimate_bandwidth's parameters in energy-sensors.
QUANTILE = 0.2
BANDWIDTH_SAMPLES = 200
SUMMARY_FIELDS = ("avg_power_active_w", "avg_power_reactive_var", "avg_power_apparent_va", "avg_line_current_a",
                  "avg_line_voltage_v")


def summarize(rows: list[list[float]]) -> list[dict[str, Any]]:
    """The clusters of `rows` (each: the eight features), by label, with counts and the means of
    the first five features. Needs scikit-learn (the server's `servidor` dependencies)."""
    if not rows:
        return []
    import numpy as np
    from sklearn.cluster import MeanShift, estimate_bandwidth

    data = np.asarray(rows, dtype=float)
    bandwidth = estimate_bandwidth(data, quantile=QUANTILE, n_samples=min(BANDWIDTH_SAMPLES, len(data)))
    if not bandwidth > 0:  # all events alike: one cluster of everything
        labels = np.zeros(len(data), dtype=int)
    else:
        labels = MeanShift(bandwidth=bandwidth, bin_seeding=True, cluster_all=False).fit(data).labels_
    out = []
    for label in sorted(set(labels.tolist())):
        members = data[labels == label]
        means = members[:, :len(SUMMARY_FIELDS)].mean(axis=0)
        out.append({"label": int(label), "count": int(len(members)),
                    **{name: round(float(v), 6) for name, v in zip(SUMMARY_FIELDS, means)}})
    return out


class ClusterWorker:
    """Owns one thread; `start`, `stored(count)` after each event, `stop` (joins)."""

    def __init__(self, rows: Callable[[], list[list[float]]], every: int = DEFAULT_EVERY) -> None:
        if every < 1:
            raise ValueError("every must be ≥ 1")
        self._rows = rows
        self.every = every
        self._wake = threading.Condition()
        self._due = False
        self._stopping = False
        self._summary: list[dict[str, Any]] = []
        self.computed_over = 0  # events in the last finished computation
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name="grupos", daemon=True)

    @property
    def summary(self) -> list[dict[str, Any]]:
        return self._summary

    def start(self, stored: int) -> None:
        self._due = stored > 0
        self._thread.start()

    def stored(self, count: int) -> None:
        """`count` events are stored now: recompute when it is a multiple of `every`."""
        if count % self.every == 0:
            with self._wake:
                self._due = True
                self._wake.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no computation is due or running (for tests and the bench)."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._due and not self._busy, timeout)

    _busy = False

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._due or self._stopping)
                if self._stopping:
                    return
                self._due = False
                self._busy = True
            try:
                rows = self._rows()
                summary = summarize(rows)
                self._summary = summary
                self.computed_over = len(rows)
                self.runs += 1
            except Exception:
                log.exception("o cálculo dos grupos de eventos falhou; o resumo anterior continua valendo")
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join()

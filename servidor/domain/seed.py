"""Readings shipped inside a document store (db.json.example) moved into the readings store."""
from __future__ import annotations

import logging

from servidor.domain.atomic import atomic
from servidor.domain.registry import MeterRegistry
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend
from shared.models import Reading

# The table db.json.example carries its history in (servidor/example.py writes it).
SEED_TABLE = "leituras_iniciais"
# Readings appended per call: well under the journal's record limit, few calls per meter.
SEED_CHUNK = 10_000
log = logging.getLogger("servidor")


def import_seed_readings(docs: DocumentStore, meters: MeterRegistry, readings: ReadingsBackend) -> None:
    """Move the seed table's readings into the journal, then drop the table. Safe to repeat
    after a crash half-way: re-sent readings are duplicates by `seq`."""
    seeds = docs.all(SEED_TABLE)
    for doc in seeds:
        meter = meters.find(doc["medidor"])
        if meter is None:
            continue
        rows = [Reading(int(seq), int(ts), float(wh)) for seq, ts, wh, *_ in doc["leituras"]]
        for start in range(0, len(rows), SEED_CHUNK):
            readings.append(meter.stream, rows[start:start + SEED_CHUNK])
    if seeds:
        atomic(docs, lambda tables: tables.remove_table(SEED_TABLE))
        log.info("importadas as leituras iniciais de %d medidores", len(seeds))

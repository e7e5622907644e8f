"""The demonstration's keys are public (README, docker-compose.demo.yml, db.json.example): a
server that accepts them is open to anyone who read the README. Outside a demonstration
(MONITOR_DEMO=1) the server refuses to start with them."""
from __future__ import annotations

from servidor.domain.auth import hash_key
from servidor.domain.keys import KEYS
from servidor.example import DEMO_KEYS
from servidor.store.documents import DocumentStore

DEMO_ENV = "MONITOR_DEMO"
DEMO_ADMIN_KEY = "demo-admin"
DEMO_REGISTRATION_KEY = "demo-registro"


def demo_keys_in_use(admin_key: str | None, registration_key: str | None, docs: DocumentStore) -> list[str]:
    """What in this configuration is a published demo key, as pt-BR phrases; [] when none is."""
    found = []
    if admin_key == DEMO_ADMIN_KEY:
        found.append(f"MONITOR_CHAVE_ADMIN={DEMO_ADMIN_KEY}")
    if registration_key == DEMO_REGISTRATION_KEY:
        found.append(f"MONITOR_CHAVE_REGISTRO={DEMO_REGISTRATION_KEY}")
    public = {hash_key(key) for pair in DEMO_KEYS.values() for key in pair}
    meters = sorted({d["medidor"] for d in docs.all(KEYS) if d.get("hash") in public and d.get("medidor")})
    if meters:
        found.append(f"as chaves públicas de db.json.example (medidores {', '.join(meters)})")
    return found

"""`make demo`: the server on a fresh copy of db.json.example, with the demo keys.

Ctrl-C stops it. The meter agents and the terminal app join the demo as they are built.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from servidor import cli
from servidor.example import DEMO_KEYS

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "demo-data"
ADMIN_KEY = "demo-admin"
REGISTRATION_KEY = "demo-registro"


def main() -> int:
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir()
    db = DEMO_DIR / "db.json"
    shutil.copyfile(ROOT / "db.json.example", db)
    os.environ.setdefault("MONITOR_CHAVE_ADMIN", ADMIN_KEY)
    os.environ.setdefault("MONITOR_CHAVE_REGISTRO", REGISTRATION_KEY)
    port = os.environ.get("MONITOR_PORTA", "5000")
    print("monitor-energia, demonstração")
    print(f"  chave de administração: {os.environ['MONITOR_CHAVE_ADMIN']}")
    print(f"  chave de registro:      {os.environ['MONITOR_CHAVE_REGISTRO']}")
    for meter_id, (read_key, _) in DEMO_KEYS.items():
        print(f"  leitura de {meter_id:<13} {read_key}")
    print(f"  experimente: curl -H 'Authorization: Bearer {ADMIN_KEY}' http://127.0.0.1:{port}/api/v1/medidores")
    print("  Ctrl-C para parar.")
    return cli.main(["--db", str(db), "--porta", port])


if __name__ == "__main__":
    sys.exit(main())

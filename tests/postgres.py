"""PostgreSQL for the tests: a fresh schema per use on MONITOR_TESTE_POSTGRES, dropped afterwards.

Where no PostgreSQL answers, the tests that need it skip with that reason, except under CI=true,
where they fail: a green CI always means they ran."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

import pytest

URL = os.environ.get("MONITOR_TESTE_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _reachable() -> str | None:
    """None if PostgreSQL answers at URL, else why not."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg não instalado ({exc})"
    try:
        with psycopg.connect(URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL não responde em {URL}: {str(exc).strip().splitlines()[0]}"
    return None


def require() -> None:
    why = _reachable()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true e os testes de PostgreSQL precisam dele: {why}")
    pytest.skip(why)


def url_for(schema: str) -> str:
    """URL whose connections write in `schema` (libpq's options: search_path)."""
    sep = "&" if "?" in URL else "?"
    return f"{URL}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL on a new, empty schema, dropped with everything in it at the end."""
    require()
    import psycopg

    schema = f"teste_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield url_for(schema)
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

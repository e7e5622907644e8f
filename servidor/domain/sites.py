"""Sites: a house, a shop, a farm whose meters are read together (opengrid's site).

A meter belongs to at most one site (its `site` field). A site has a read key of its own, made
when the site is created and shown once, which reads the site and nothing else. A site that still
has meters cannot be deleted: the meters would point nowhere.

On a database shared by several servers, each change reads the stored site in the change that
writes it, and each server reads the sites again once its copy is SHARED_RECHECK_S old
(servidor.domain.freshness), looking a site it does not know up before a 404.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping

from servidor.billing import BillingError, check_connection
from servidor.domain.atomic import Tables, atomic
from servidor.domain.auth import Role
from servidor.domain.errors import Conflict, InvalidInput, NotFound
from servidor.domain.freshness import Freshness
from servidor.domain.keys import KEYS, KeyRing, generated_key_doc
from servidor.domain.meters import MAX_NAME, now_iso, zone
from servidor.store.documents import DocumentStore
from shared.models import METER_ID

SITES = "sites"
SITE_EDITABLE = ("nome", "fuso", "ligacao")
SITE_ECHOED = frozenset({"criado_em", "atualizado_em", "medidores"})


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    nome: str
    fuso: str = "America/Sao_Paulo"
    # The connection type of the site's grid supply (as on a meter: the minimum billed energy).
    ligacao: str | None = None
    criado_em: str = ""
    atualizado_em: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not METER_ID.fullmatch(self.id):
            raise InvalidInput("id deve ter de 1 a 64 letras, dígitos, '.', '_' ou '-', começando por letra ou dígito",
                               campo="id")
        if not isinstance(self.nome, str) or not self.nome.strip() or len(self.nome) > MAX_NAME:
            raise InvalidInput(f"nome deve ser um texto de 1 a {MAX_NAME} caracteres", campo="nome")
        zone(self.fuso)
        if self.ligacao is not None and not isinstance(self.ligacao, str):
            raise InvalidInput("ligacao deve ser monofasica, bifasica, trifasica ou null", campo="ligacao")
        try:
            check_connection(self.ligacao)
        except BillingError as exc:
            raise InvalidInput(exc.message, campo=exc.campo) from None

    @property
    def tz(self):
        return zone(self.fuso)

    @classmethod
    def from_json(cls, obj: Any, *, site_id: str | None, default_zone: str) -> "Site":
        if not isinstance(obj, Mapping):
            raise InvalidInput("o corpo deve ser um objeto JSON")
        allowed = set(SITE_EDITABLE) | ({"id"} if site_id is None else set())
        unknown = sorted(set(obj) - allowed - SITE_ECHOED)
        if unknown:
            raise InvalidInput(f"campos desconhecidos: {', '.join(map(str, unknown))[:200]}")
        values = {"fuso": default_zone, **{k: obj[k] for k in allowed if k in obj}}
        values["id"] = site_id if site_id is not None else obj.get("id")
        values.setdefault("nome", values["id"] if isinstance(values["id"], str) else "")
        return cls(**values)

    def to_doc(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SiteBook:
    """Every site, cached in memory and written through to the document store."""

    def __init__(self, docs: DocumentStore, keys: KeyRing, default_zone: str) -> None:
        self._docs = docs
        self._keys = keys
        self._default_zone = default_zone
        self._lock = threading.Lock()
        self._fresh = Freshness(docs)
        self._sites = {d["id"]: Site(**d) for d in docs.all(SITES)}

    def _refresh(self) -> None:
        """Shared documents: the sites as stored now, once this server's copy is
        SHARED_RECHECK_S old (made, changed or deleted through another server meanwhile)."""
        if self._fresh.due():
            self._sites = {d["id"]: Site(**d) for d in self._docs.all(SITES)}
            self._fresh.read()

    def _find(self, site_id: str) -> Site | None:
        self._refresh()
        site = self._sites.get(site_id)
        if site is None and self._fresh.shared:  # made through another server since the last read?
            doc = self._docs.get(SITES, "id", site_id)
            if doc is not None:
                site = self._sites[site_id] = Site(**doc)
        return site

    def get(self, site_id: str) -> Site:
        site = self._find(site_id)
        if site is None:
            raise NotFound(f"site {site_id} não existe")
        return site

    def exists(self, site_id: str) -> bool:
        return self._find(site_id) is not None

    def connection(self, meter: Any) -> str | None:
        """The connection type that bills `meter`: its own, else its site's (the site's bill is
        its grid meters' bill)."""
        if meter.ligacao is not None or meter.site is None:
            return meter.ligacao
        site = self._find(meter.site)
        return None if site is None else site.ligacao

    def all(self) -> list[Site]:
        self._refresh()
        return sorted(self._sites.values(), key=lambda s: s.id)

    def create(self, body: Any) -> tuple[Site, str]:
        """A new site and its read key (shown once); Conflict if the id exists."""
        stamp = now_iso()
        site = replace(Site.from_json(body, site_id=None, default_zone=self._default_zone),
                       criado_em=stamp, atualizado_em=stamp)
        key, key_doc = generated_key_doc(Role.READ)
        key_doc["site"] = site.id

        def change(tables: Tables) -> None:
            if tables.find(SITES, "id", site.id) is not None:
                raise Conflict(f"já existe um site com id {site.id}")
            tables.insert(SITES, site.to_doc())
            tables.insert(KEYS, key_doc)

        with self._lock:
            atomic(self._docs, change)
            self._sites[site.id] = site
        self._keys.adopt([key_doc])
        return site, key

    def replace(self, site_id: str, body: Any) -> Site:
        fresh = Site.from_json(body, site_id=site_id, default_zone=self._default_zone)

        def change(tables: Tables) -> Site:
            current = tables.find(SITES, "id", site_id)
            if current is None:
                raise NotFound(f"site {site_id} não existe")
            site = replace(fresh, criado_em=current["criado_em"], atualizado_em=now_iso())
            tables.upsert(SITES, "id", site.to_doc())
            return site

        with self._lock:
            site = self._sites[site_id] = atomic(self._docs, change)
            return site

    def delete(self, site_id: str, has_meters: Callable[[str], bool]) -> None:
        """Remove the site and its key; Conflict while some meter still belongs to it."""
        with self._lock:
            self.get(site_id)
            if has_meters(site_id):
                raise Conflict(f"o site {site_id} ainda tem medidores: tire-os do site (site: null) antes de apagá-lo")

            def change(tables: Tables) -> None:
                tables.remove(SITES, "id", site_id)
                tables.remove(KEYS, "site", site_id)

            atomic(self._docs, change)
            self._sites.pop(site_id, None)
        self._keys.revoke_site(site_id)


class SiteService:
    """Sites as the API's handlers use them: the book, and which meters belong to each."""

    def __init__(self, book: SiteBook, meters: Callable[[], Any]) -> None:
        self.book = book
        self._meters = meters  # () -> every meter

    def members(self, site_id: str) -> list[Any]:
        return [m for m in self._meters() if m.site == site_id]

    def view(self, site: Site) -> dict[str, Any]:
        out = site.to_doc()
        out["medidores"] = [{"id": m.id, "nome": m.nome, "categoria": m.categoria} for m in self.members(site.id)]
        return out

    def delete(self, site_id: str) -> None:
        self.book.delete(site_id, lambda site: bool(self.members(site)))

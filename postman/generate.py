"""Writes the Postman collection and the demo environment from the server's OpenAPI document.

    python postman/generate.py              # rewrites the two files beside this script
    python postman/generate.py --saida DIR  # writes them into DIR instead

The collection is derived, never edited by hand: one folder per tag, one request per operation,
`{{baseUrl}}` and path variables, the document's examples as bodies, the admin key as the
collection's bearer auth and `noauth` on the open routes. tests/test_openapi_postman.py
regenerates it and fails if the committed files differ, so they follow every API change.
"""
from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Runnable from a checkout with any Python that has the dependencies, installed or not.
sys.path.insert(0, str(ROOT))

from demo.suite import ADMIN_KEY  # noqa: E402
from servidor.api.openapi import document  # noqa: E402
from servidor.api.openapi.blocks import EXAMPLE_METER  # noqa: E402
from servidor.api.routes import route_table  # noqa: E402
from servidor.app import VERSION  # noqa: E402
from servidor.example import DEMO_KEYS  # noqa: E402

COLLECTION_FILE = "monitor-energia.postman_collection.json"
ENVIRONMENT_FILE = "demo.postman_environment.json"
SCHEMA_V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
BASE_URL = "http://127.0.0.1:5000"
# Fixed ids: Postman matches a re-imported collection to the old one by id, and a random id
# would also make every regeneration a diff.
COLLECTION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://monitor-energia/postman/collection"))
ENVIRONMENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://monitor-energia/postman/demo-environment"))


def _path_value(param: dict[str, Any]) -> str:
    """The demo meter's id comes from the environment; other ids keep the document's example
    (the delete routes name a throwaway meter on purpose, so a click cannot delete the demo's)."""
    example = param.get("example", "")
    return "{{medidor}}" if example == EXAMPLE_METER else str(example)


def _url(path: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    segments = [f":{s[1:-1]}" if s.startswith("{") else s for s in path.strip("/").split("/")]
    if path.endswith("/") and len(path) > 1:
        segments.append("")  # Tesla Analyzer's routes end in "/"
    query = []
    for param in parameters:
        if param["in"] != "query":
            continue
        has_example = "example" in param and not param.get("deprecated")
        query.append({"key": param["name"], "value": str(param["example"]) if has_example else "",
                      "description": param.get("description", ""), "disabled": not has_example})
    enabled = "&".join(f"{q['key']}={q['value']}" for q in query if not q["disabled"])
    raw = "{{baseUrl}}/" + "/".join(segments) + (f"?{enabled}" if enabled else "")
    url: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": segments}
    if query:
        url["query"] = query
    variables = [{"key": p["name"], "value": _path_value(p), "description": p.get("description", "")}
                 for p in parameters if p["in"] == "path"]
    if variables:
        url["variable"] = variables
    return url


def _body(operation: dict[str, Any]) -> dict[str, Any] | None:
    contents = operation.get("requestBody", {}).get("content", {})
    form = contents.get("application/x-www-form-urlencoded")
    if form is not None:  # Tesla Analyzer's history/save
        example = next(iter(form["examples"].values()))["value"]
        return {"mode": "urlencoded", "urlencoded": [{"key": k, "value": v} for k, v in example.items()]}
    content = contents.get("application/json")
    if content is None:
        return None
    if "examples" in content:
        example = next(iter(content["examples"].values()))["value"]
    else:
        example = content.get("example", {})
    return {"mode": "raw", "raw": json.dumps(example, ensure_ascii=False, indent=2),
            "options": {"raw": {"language": "json"}}}


def _item(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    description = operation["description"]
    name = operation["summary"]
    if operation.get("deprecated"):
        name += " (obsoleta)"
        description = "**Obsoleta**: rota do sistema 004. " + description
    request: dict[str, Any] = {"method": method.upper(), "header": [],
                               "url": _url(path, operation.get("parameters", [])), "description": description}
    body = _body(operation)
    if body is not None:
        kind = "application/x-www-form-urlencoded" if body["mode"] == "urlencoded" else "application/json"
        request["header"].append({"key": "Content-Type", "value": kind})
        request["body"] = body
    if not operation["security"]:
        request["auth"] = {"type": "noauth"}
    return {"name": name, "request": request, "response": []}


def collection(doc: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, dict[str, Any]] = {
        tag["name"]: {"name": tag["name"], "description": tag["description"], "item": []} for tag in doc["tags"]}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            # The first tag is the operation's home; later tags only cross-reference it.
            folders[operation["tags"][0]]["item"].append(_item(path, method, operation))
    return {
        "info": {
            "_postman_id": COLLECTION_ID,
            "name": doc["info"]["title"],
            "description": doc["info"]["description"],
            "version": doc["info"]["version"],
            "schema": SCHEMA_V21,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{chave}}", "type": "string"}]},
        # A fallback for use without the environment; the environment's value wins in Postman.
        "variable": [{"key": "baseUrl", "value": BASE_URL, "type": "string"}],
        "item": [folder for folder in folders.values() if folder["item"]],
    }


def environment() -> dict[str, Any]:
    read_key, _ = DEMO_KEYS[EXAMPLE_METER]
    values = [("baseUrl", BASE_URL, "default"), ("chave", ADMIN_KEY, "secret"),
              ("chaveLeitura", read_key, "secret"), ("medidor", EXAMPLE_METER, "default")]
    return {
        "id": ENVIRONMENT_ID,
        "name": "monitor-energia (demonstração)",
        "values": [{"key": key, "value": value, "type": kind, "enabled": True} for key, value, kind in values],
        "_postman_variable_scope": "environment",
    }


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in ((COLLECTION_FILE, collection(document(route_table(), version=VERSION))), (ENVIRONMENT_FILE, environment())):
        target = directory / name
        target.write_text(_dump(data), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gera a coleção do Postman e o ambiente de demonstração "
                                                 "a partir do documento OpenAPI do servidor.")
    parser.add_argument("--saida", type=Path, default=Path(__file__).resolve().parent,
                        help="pasta onde gravar os arquivos (padrão: a pasta deste script)")
    args = parser.parse_args(argv)
    for path in write(args.saida):
        print(f"gravado {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

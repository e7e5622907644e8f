"""What the document says about sites and the analysis feed (`serie`), and their schemas."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, instant_query, json_body, meter_param, obj, ok, operation, query, ref
from servidor.api.openapi.schemas_meters import BILLING_FIELDS
from servidor.api.routes import METER, SITES
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS
from servidor.domain.categories import FIGURES
from servidor.domain.meters import MAX_NAME
from servidor.domain.site_flows import MAX_READS, MAX_ROWS, SERIES_INTERVALS, SITE_FIGURES
from shared.models import METER_ID

SITE = f"{SITES}/{{id}}"
SITE_NOTE = "Chave de administração ou a chave de leitura do site."
ADMIN_NOTE = "Só a chave de administração."
NEW_SITE_EXAMPLE = {"id": "casa-solar", "nome": "Casa com painéis", "fuso": "America/Sao_Paulo",
                    "ligacao": "bifasica"}
SITE_FIGURE_SCHEMAS = {
    "consumo_kwh": {"type": "number", "description": "gridNet + gridImport + pvProd − gridExport + gridCons."},
    "importado_kwh": {"type": "number"},
    "exportado_kwh": {"type": "number"},
    "liquido_kwh": {"type": "number", "description": "Importado − exportado."},
    "producao_kwh": {"type": "number"},
    "autoconsumo_kwh": {"type": "number", "description": "Produção − exportação, entre 0 e a produção."},
    "autossuficiencia_pct": {"type": ["number", "null"],
                             "description": "Autoconsumo em % do consumo; null sem consumo."},
}


def _site_param(example: str = "casa-solar") -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": "Id do site.",
            "schema": {"type": "string", "pattern": METER_ID.pattern}, "example": example}


def _range_params(intervals: tuple[str, ...], default: str, formats: bool = False) -> list[dict[str, Any]]:
    params = [instant_query("de", "Início.", "2026-10-01"),
              instant_query("ate", "Fim (uma data inclui o dia inteiro; padrão: agora).", "2026-10-31"),
              query("intervalo", {"enum": list(intervals), "default": default}, "Tamanho dos períodos.", default)]
    if formats:
        params.append(query("formato", {"enum": ["json", "csv"], "default": "json"},
                            "json: `{timestamps, colunas}`; csv: cabeçalho e uma linha por período.", "json"))
    return params


def _series_response() -> dict[str, Any]:
    return {"description": "A série.", "content": {
        "application/json": {"schema": ref("Serie")},
        "text/csv": {"schema": {"type": "string"}, "example": "timestamp,kwh,cobertura\n"
                                                             "2026-10-01T00:00:00-03:00,0.412,1.0\n"}}}


def site_operations() -> dict[str, dict[str, Any]]:
    series_note = (f"Uma linha por período de 15 minutos, hora ou dia; no máximo {MAX_ROWS} períodos e "
                   f"{MAX_READS} períodos × medidores (mais é 400 `consulta_grande_demais`). Pronta para o pandas: "
                   "`pd.read_csv(url, index_col='timestamp', parse_dates=True)`.")
    return {
        SITES: {
            "get": operation("Sites", "Lista os sites",
                             f"Todos os sites (administração) ou o da chave de leitura do site. {SITE_NOTE}",
                             {"200": ok("Os sites.", "ListaDeSites")}, errors=("401", "403")),
            "post": operation("Sites", "Cria um site",
                              "Um site junta os medidores de uma casa ou empresa (campo `site` de cada medidor). "
                              f"A resposta traz a chave de leitura do site, mostrada só agora. {ADMIN_NOTE}",
                              {"201": ok("O site criado.", "SiteCriado")},
                              errors=("401", "403", "409", "415", "422", "400", "413"),
                              body=json_body(ref("NovoSite"), "O site.", {"casa": ("Casa solar", NEW_SITE_EXAMPLE)})),
        },
        SITE: {
            "get": operation("Sites", "Um site", f"O site e seus medidores. {SITE_NOTE}",
                             {"200": ok("O site.", "Site")}, errors=("401", "403", "404"),
                             parameters=[_site_param()]),
            "put": operation("Sites", "Altera um site",
                             f"Os campos enviados substituem os do site; os omitidos voltam ao padrão. {ADMIN_NOTE}",
                             {"200": ok("O site alterado.", "Site")},
                             errors=("401", "403", "404", "415", "422", "400", "413"), parameters=[_site_param()],
                             body=json_body(ref("CamposDoSite"), "Os campos.", {"nome": ("Novo nome", {
                                 "nome": "Casa da praia", "ligacao": "trifasica"})})),
            "delete": operation("Sites", "Apaga um site",
                                "Apaga o site e sua chave de leitura. Um site com medidores não pode ser apagado "
                                f"(409): tire-os antes (`site: null`). {ADMIN_NOTE}",
                                {"204": {"description": "Apagado."}}, errors=("401", "403", "404", "409"),
                                parameters=[_site_param("site-antigo")]),
        },
        f"{SITE}/consumo": {"get": operation("Sites", "Energia do site por período",
            "Por período no calendário do site: consumo pela fórmula gridNet + gridImport + pvProd − gridExport "
            "+ gridCons, importação, exportação, produção, autoconsumo (produção − exportação) e autossuficiência. "
            "gridSub, heatProd, água e gás não entram na soma. A cobertura de cada período é a do medidor somado "
            f"menos coberto. No máximo {MAX_BUCKETS} períodos. {SITE_NOTE}",
            {"200": ok("A energia do site.", "ConsumoDoSite")}, errors=("400", "401", "403", "404", "422"),
            parameters=[_site_param(), *_range_params(INTERVALS, "dia")])},
        f"{SITE}/serie": {"get": operation("Sites", "Série do site para análise",
            f"As grandezas do site como colunas, no formato do `getAllData` do opengrid. {series_note} {SITE_NOTE}",
            {"200": _series_response()}, errors=("400", "401", "403", "404", "422"),
            parameters=[_site_param(), *_range_params(SERIES_INTERVALS, "hora", formats=True)])},
        f"{METER}/serie": {"get": operation("Consumo e faturas", "Série do medidor para análise",
            f"As grandezas do medidor (as de `consumo`) como colunas. {series_note} Chave de administração ou "
            "uma chave do medidor.",
            {"200": _series_response()}, errors=("400", "401", "403", "404", "422"),
            parameters=[meter_param(), *_range_params(SERIES_INTERVALS, "hora", formats=True)])},
    }


def site_schemas() -> dict[str, Any]:
    editable = {
        "nome": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S",
                 "description": "Nome para pessoas (padrão: o id)."},
        "fuso": {"type": "string", "description": "Fuso IANA do calendário do site (padrão: o do servidor).",
                 "examples": ["America/Sao_Paulo"]},
        "ligacao": BILLING_FIELDS["ligacao"],
    }
    echoed = {name: {"description": "Ignorado (aceito para que o corpo de um GET possa ser reenviado)."}
              for name in ("atualizado_em", "criado_em", "medidores")}
    site = {
        "id": {"type": "string", "pattern": METER_ID.pattern}, "nome": {"type": "string"},
        "fuso": {"type": "string"}, "ligacao": {"enum": [*BILLING_FIELDS["ligacao"]["enum"]]},
        "criado_em": instant("Quando o site foi criado."), "atualizado_em": instant("Última alteração."),
        "medidores": {"type": "array", "items": obj({"id": {"type": "string"}, "nome": {"type": "string"},
                                                     "categoria": {"type": "string"}}, ["id", "nome", "categoria"])},
    }
    row = obj({"rotulo": {"type": "string"}, "inicio": instant("Início do período."),
               "fim": instant("Fim do período (exclusivo)."), **SITE_FIGURE_SCHEMAS,
               "cobertura": {"type": "number", "minimum": 0, "maximum": 1},
               "parcial": {"const": True, "description": "O período contém o instante atual."}},
              ["rotulo", "inicio", "fim", *SITE_FIGURES, "cobertura"])
    columns = {name: {"type": "array", "items": {"type": ["number", "null"]}}
               for name in (*FIGURES, *SITE_FIGURES, "cobertura")}
    return {
        "NovoSite": obj({"id": {"type": "string", "pattern": METER_ID.pattern}, **editable, **echoed}, ["id"],
                        description="Um site novo. Campos fora desta lista são recusados."),
        "CamposDoSite": obj({**editable, **echoed}, description="Os campos editáveis; os omitidos voltam ao padrão."),
        "Site": obj(site, list(site)),
        "SiteCriado": obj({**site, "chave_leitura": {"type": "string", "description": "Mostrada só agora."},
                           "aviso": {"type": "string"}}, [*site, "chave_leitura", "aviso"]),
        "ListaDeSites": obj({"sites": {"type": "array", "items": ref("Site")}}, ["sites"]),
        "ConsumoDoSite": obj({
            "site": {"type": "string"}, "intervalo": {"enum": list(INTERVALS)}, "fuso": {"type": "string"},
            "unidade": {"const": "kWh"}, "formula": {"type": "string"},
            "medidores": {"type": "array", "items": obj({"id": {"type": "string"}, "categoria": {"type": "string"}},
                                                        ["id", "categoria"])},
            "totais": obj(SITE_FIGURE_SCHEMAS, list(SITE_FIGURES)),
            "consumo": {"type": "array", "maxItems": MAX_BUCKETS, "items": row},
        }, ["site", "intervalo", "fuso", "unidade", "formula", "medidores", "totais", "consumo"]),
        "Serie": obj({
            "site": {"type": "string"}, "medidor": {"type": "string"}, "categoria": {"type": "string"},
            "intervalo": {"enum": list(SERIES_INTERVALS)}, "fuso": {"type": "string"},
            "timestamps": {"type": "array", "items": instant("Início do período.")},
            "colunas": obj(columns, description="Uma lista por grandeza, alinhada com `timestamps`."),
        }, ["intervalo", "fuso", "timestamps", "colunas"]),
    }


"""What the document says about invoices per cycle, their versions, the tariff comparison, tariffs
with versions and the bandeira table, by path and method."""
from __future__ import annotations

from typing import Any

from servidor.api import invoices as invoice_api
from servidor.api.openapi.blocks import (
    EXAMPLE_MONTH,
    NEW_TARIFF_EXAMPLE,
    TARIFF_REPLACEMENT_EXAMPLE,
    TARIFF_VERSION_EXAMPLE,
    json_body,
    meter_param,
    ok,
    operation,
    query,
    ref,
    tariff_param,
)
from servidor.api.openapi.operations_meters import BODY_ERRORS, READ_NOTE
from servidor.api.openapi.schemas_tariffs import MONTH_PATTERN
from servidor.api.routes import METER
from servidor.billing.comparison import MAX_TARIFFS, MIN_COVERAGE
from servidor.billing.cycles import MAX_CYCLES
from servidor.domain.invoices import MAX_KEPT_VERSIONS, MAX_MONTHS
from servidor.domain.tariff_comparison import DEFAULT_CYCLES
from shared.contract import API_PREFIX

TARIFFS = f"{API_PREFIX}/tarifas"
ADMIN = "Só a chave de administração."
NO_BILL = ("Medidores de produção (`pvProd`, `heatProd`), de exportação (`gridExport`), de água e de gás não têm "
           "fatura de energia: 409 `sem_fatura`, com o motivo.")


def _cycle_param() -> dict[str, Any]:
    return {"name": "ciclo", "in": "path", "required": True,
            "description": "O ciclo: `AAAA-MM` (o mês em que a conta é emitida) ou `AAAA-MM-DD` (o ciclo que contém "
                           "esse dia).", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}(-\d{2})?$"},
            "example": EXAMPLE_MONTH}


def _version_query(name: str, what: str) -> dict[str, Any]:
    return query(name, {"type": "integer", "minimum": 1, "maximum": invoice_api.MAX_VERSION}, what, 1)


def _vigencia_param() -> dict[str, Any]:
    return {"name": "vigencia", "in": "path", "required": True, "description": "A vigência da versão, `AAAA-MM-DD`.",
            "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}, "example": "1970-01-01"}


def invoice_operations() -> dict[str, dict[str, Any]]:
    return {
        f"{METER}/faturas": {"get": operation("Consumo e faturas", "Faturas por ciclo",
            f"Uma fatura por ciclo de leitura (do `dia_leitura` do medidor ao dia anterior ao próximo; sem ele, o mês "
            f"civil), do ciclo aberto até o da primeira leitura (no máximo {MAX_MONTHS}; os que começam antes da "
            "primeira versão da tarifa não são listados). Cada linha diz o que é e "
            "como foi calculada; o total é a soma das linhas arredondadas. Um ciclo fechado é reemitido, com nova "
            f"`versao`, se dados atrasados, a tarifa ou as bandeiras o mudarem. {NO_BILL.replace(': 409 `sem_fatura`', ': a lista vem vazia, com `sem_fatura`')} "
            f"{READ_NOTE}",
            {"200": ok("As faturas, da mais recente à mais antiga.", "ListaDeFaturas")},
            errors=("401", "403", "404", "422"), parameters=[meter_param()])},
        f"{METER}/faturas/{{ciclo}}": {"get": operation("Consumo e faturas", "A fatura de um ciclo",
            "A fatura do ciclo. Um ciclo que ainda não começou é 404; um anterior à primeira versão da tarifa, 422. "
            f"{NO_BILL} {READ_NOTE}",
            {"200": ok("A fatura.", "Fatura")}, errors=("401", "403", "404", "409", "422"),
            parameters=[meter_param(), _cycle_param()])},
        f"{METER}/faturas/{{ciclo}}/versoes": {"get": operation("Consumo e faturas", "As versões de uma fatura",
            "Cada emissão da fatura de um ciclo fechado, da mais recente à mais antiga (ficam a primeira e as "
            f"{MAX_KEPT_VERSIONS - 1} mais recentes). Um ciclo aberto é 409 `ciclo_aberto`. {READ_NOTE}",
            {"200": ok("As versões.", "VersoesDeFatura")}, errors=("401", "403", "404", "409", "422"),
            parameters=[meter_param(), _cycle_param()])},
        f"{METER}/faturas/{{ciclo}}/versoes/{{versao}}": {"get": operation("Consumo e faturas",
            "Uma versão de uma fatura", f"A fatura como foi emitida nesta versão. {READ_NOTE}",
            {"200": ok("A versão.", "VersaoDeFatura")}, errors=("401", "403", "404", "409", "422"),
            parameters=[meter_param(), _cycle_param(),
                        {"name": "versao", "in": "path", "required": True, "description": "O número da versão.",
                         "schema": {"type": "integer", "minimum": 1, "maximum": invoice_api.MAX_VERSION},
                         "example": 1}])},
        f"{METER}/faturas/{{ciclo}}/diferencas": {"get": operation("Consumo e faturas",
            "O que mudou entre duas versões", f"Linha a linha, o que mudou da versão `de` para a `para`. {READ_NOTE}",
            {"200": ok("As diferenças.", "DiferencasDeFatura")}, errors=("401", "403", "404", "409", "422"),
            parameters=[meter_param(), _cycle_param(), _version_query("de", "A versão anterior (obrigatória)."),
                        _version_query("para", "A versão posterior (obrigatória).")])},
        f"{METER}/comparar-tarifas": {"get": operation("Consumo e faturas", "Qual tarifa compensa?",
            "O consumo real do medidor, de 15 em 15 minutos, nos últimos ciclos fechados, faturado por inteiro "
            "(bandeira, mínimo, tributos, CIP) em cada tarifa: a do medidor (a referência) e as outras cadastradas, "
            f"menos a `padrao` do 004 (no máximo {MAX_TARIFFS}), ou as de `tarifas`. Responde o total de cada ciclo, a diferença, as horas "
            f"que fazem a diferença e a conclusão. Ciclos com menos de {int(MIN_COVERAGE * 100)} % de leituras ficam "
            "fora; sem nenhum completo, `historico_curto` é true e a conclusão diz que o histórico é curto demais. "
            f"{NO_BILL} {READ_NOTE}",
            {"200": ok("A comparação.", "ComparacaoDeTarifas")}, errors=("400", "401", "403", "404", "409", "422"),
            parameters=[meter_param(),
                        query("ciclos", {"type": "integer", "minimum": 1, "maximum": MAX_CYCLES,
                                         "default": DEFAULT_CYCLES}, "Quantos ciclos fechados comparar.", 12),
                        query("tarifas", {"type": "string", "maxLength": invoice_api.MAX_TARIFF_LIST},
                              "Ids das tarifas a comparar com a do medidor, separados por vírgula.",
                              "convencional,branca")])},
    }


def tariff_operations() -> dict[str, dict[str, Any]]:
    return {
        TARIFFS: {
            "get": operation("Tarifas", "Lista as tarifas", "Com qualquer chave.",
                {"200": ok("As tarifas.", "ListaDeTarifas")}, errors=("401",)),
            "post": operation("Tarifas", "Cria uma tarifa", f"{ADMIN} Um id que já existe é 409.",
                {"201": ok("Criada.", "Tarifa")}, errors=("401", "403", "409") + BODY_ERRORS,
                body=json_body(ref("NovaTarifa"), "A tarifa.", {"faixas": ("Tarifa social", NEW_TARIFF_EXAMPLE)})),
        },
        f"{TARIFFS}/{{id}}": {
            "get": operation("Tarifas", "Uma tarifa", "Com qualquer chave.",
                {"200": ok("A tarifa.", "Tarifa")}, errors=("401", "404"), parameters=[tariff_param()]),
            "put": operation("Tarifas", "Substitui uma tarifa",
                f"{ADMIN} Corrigir um preço corrige as faturas: as de ciclos fechados são reemitidas.",
                {"200": ok("A tarifa alterada.", "Tarifa")}, errors=("401", "403", "404") + BODY_ERRORS,
                parameters=[tariff_param()],
                body=json_body(ref("TarifaSubstituta"), "A tarifa inteira.",
                               {"faixas": ("Residencial com faixas", TARIFF_REPLACEMENT_EXAMPLE)})),
            "delete": operation("Tarifas", "Apaga uma tarifa",
                f"{ADMIN} A tarifa `padrao` não pode ser apagada (409); medidores com uma tarifa apagada são "
                "cobrados pela padrão.",
                {"204": {"description": "Apagada."}}, errors=("401", "403", "404", "409"),
                parameters=[tariff_param("tarifa-descartada")]),
        },
        f"{TARIFFS}/{{id}}/versoes": {
            "get": operation("Tarifas", "As versões de uma tarifa", "Em ordem de vigência. Com qualquer chave.",
                {"200": ok("As versões.", "ListaDeVersoesTarifa")}, errors=("401", "404"), parameters=[tariff_param()]),
            "post": operation("Tarifas", "Acrescenta uma versão",
                f"{ADMIN} A vigência deve ser posterior à da última versão (para mudar uma anterior, use PUT nela). "
                "Um ciclo que cruza a mudança é cobrado pro rata por dias.",
                {"201": ok("A tarifa com a nova versão.", "Tarifa")}, errors=("401", "403", "404") + BODY_ERRORS,
                parameters=[tariff_param()],
                body=json_body(ref("NovaVersaoTarifa"), "A versão.", {"reajuste": ("Reajuste", TARIFF_VERSION_EXAMPLE)})),
        },
        f"{TARIFFS}/{{id}}/versoes/{{vigencia}}": {
            "get": operation("Tarifas", "Uma versão", "Com qualquer chave.",
                {"200": ok("A versão.", "VersaoTarifa")}, errors=("401", "404", "422"),
                parameters=[tariff_param(), _vigencia_param()]),
            "put": operation("Tarifas", "Substitui uma versão",
                f"{ADMIN} A vigência pode mudar, desde que as versões continuem em ordem.",
                {"200": ok("A tarifa alterada.", "Tarifa")}, errors=("401", "403", "404") + BODY_ERRORS,
                parameters=[tariff_param(), _vigencia_param()],
                body=json_body(ref("NovaVersaoTarifa"), "A versão inteira.",
                               {"reajuste": ("Preços corrigidos", {**TARIFF_VERSION_EXAMPLE, "vigencia": "1970-01-01"})})),
            "delete": operation("Tarifas", "Apaga uma versão",
                f"{ADMIN} A única versão de uma tarifa não pode ser apagada (409).",
                {"200": ok("A tarifa sem a versão.", "Tarifa")}, errors=("401", "403", "404", "409", "422"),
                parameters=[tariff_param("tarifa-descartada"), _vigencia_param()]),
        },
        f"{API_PREFIX}/bandeiras": {
            "get": operation("Tarifas", "A tabela de bandeiras",
                "Os valores de cada bandeira (R$ por 100 kWh, antes dos tributos) com sua vigência e fonte, e a "
                "bandeira de cada mês. Um mês fora da tabela é faturado como verde, e a fatura avisa. Com qualquer chave.",
                {"200": ok("A tabela.", "TabelaBandeiras")}, errors=("401",)),
            "put": operation("Tarifas", "Substitui a tabela de bandeiras",
                f"{ADMIN} As faturas de ciclos fechados afetados são reemitidas.",
                {"200": ok("A tabela nova.", "TabelaBandeiras")}, errors=("401", "403") + BODY_ERRORS,
                body=json_body(ref("NovaTabelaBandeiras"), "A tabela inteira.", {"2025": ("Valores de 2025", {
                    "valores": [{"vigencia": "2025-01-01", "fonte": "ANEEL, valores em vigor em 2025",
                                 "por_100kwh": {"verde": 0, "amarela": 1.885, "vermelha_1": 4.463,
                                                "vermelha_2": 7.877}}],
                    "meses": {"2025-05": "amarela", "2025-06": "vermelha_1"}})})),
        },
        f"{API_PREFIX}/bandeiras/{{mes}}": {"put": operation("Tarifas", "A bandeira de um mês",
            f"{ADMIN} Marca (ou troca) a bandeira de um mês; precisa haver valor em vigor para ela.",
            {"200": ok("A tabela nova.", "TabelaBandeiras")}, errors=("401", "403") + BODY_ERRORS,
            parameters=[{"name": "mes", "in": "path", "required": True, "description": "O mês, `AAAA-MM`.",
                         "schema": {"type": "string", "pattern": MONTH_PATTERN}, "example": "2026-01"}],
            body=json_body(ref("BandeiraDoMes"), "A bandeira.", {"amarela": ("Bandeira amarela", {"bandeira": "amarela"})}))},
    }


def billing_operations() -> dict[str, dict[str, Any]]:
    return {**invoice_operations(), **tariff_operations()}

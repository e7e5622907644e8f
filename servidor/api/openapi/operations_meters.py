"""What the document says about the meters', readings' and server's own operations, by path and
method. servidor/api/openapi/__init__.py pairs each with the route that answers it."""
from __future__ import annotations

from typing import Any

from servidor.api import live as live_api
from servidor.api.openapi.blocks import (
    BATCH_EXAMPLE,
    METER_FIELDS_EXAMPLE,
    NEW_METER_EXAMPLE,
    READING_EXAMPLE,
    instant_query,
    json_body,
    meter_param,
    ok,
    operation,
    query,
    ref,
)
from servidor.api.routes import METER
from servidor.domain import live
from servidor.domain.history import DEFAULT_PAGE, LIVE_BATCH, MAX_PAGE
from shared.contract import API_PREFIX, MAX_BATCH

READ_NOTE = "Chave de leitura ou de escrita do medidor, ou a de administração."
WRITE_NOTE = "Chave de escrita do medidor ou a de administração."
BODY_ERRORS = ("400", "413", "415", "422")


def meter_operations() -> dict[str, dict[str, Any]]:
    paging = [
        instant_query("de", "Início (inclusivo).", "2026-10-01"),
        instant_query("ate", "Fim (exclusivo; uma data inclui o dia inteiro).", "2026-10-02"),
        query("limite", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                         "default": DEFAULT_PAGE}, "Leituras por página.", 100),
        query("de_seq", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
              "Com `de`: as leituras exatamente no instante `de` começam neste seq (a `proxima_pagina` o "
              "preenche, para que leituras com o mesmo instante nunca se repitam nem se percam).", 0),
    ]
    wait = live.MAX_WAIT_S
    return {
        f"{API_PREFIX}/openapi.json": {"get": operation("Sistema", "Este documento",
            "O documento OpenAPI 3.1 de todas as rotas do servidor. Aberto, sem chave.",
            {"200": ok("O documento.", "DocumentoOpenApi")}, open_route=True)},
        f"{API_PREFIX}/saude": {"get": operation("Sistema", "Vida e estado do armazenamento",
            "Responde enquanto o servidor estiver de pé, com a versão, o tempo desde o início e os números do "
            "armazenamento. `estado` é `degradado`, com o `motivo`, quando o armazenamento não consegue gravar "
            "(disco cheio, descritores esgotados). Aberto, sem chave; não mostra caminhos do servidor.",
            {"200": ok("O servidor está de pé.", "Saude")}, open_route=True)},
        f"{API_PREFIX}/medidores": {
            "get": operation("Medidores", "Lista os medidores com resumo",
                "A chave de administração vê todos (e os medidores do 004 em `legado`); a chave de um medidor "
                "vê só o seu. A chave de registro recebe 403.",
                {"200": ok("Os medidores.", "ListaDeMedidores")}, errors=("401", "403")),
            "post": operation("Medidores", "Cria um medidor",
                "Com a chave de administração ou a de registro. A resposta traz a chave de escrita e a de "
                "leitura do medidor, mostradas só esta vez (o servidor guarda apenas o hash). Um id que já "
                "existe é 409; uma tarifa que não existe, 422.",
                {"201": ok("Criado; guarde as chaves.", "MedidorCriado")},
                errors=("401", "403", "409") + BODY_ERRORS,
                body=json_body(ref("NovoMedidor"), "O medidor.", {"medidor": ("Um apartamento", NEW_METER_EXAMPLE)})),
        },
        METER: {
            "get": operation("Medidores", "Um medidor e seu estado",
                "O cadastro, a última leitura, o resumo (potência agora, kWh hoje e no mês, fatura projetada), "
                f"os alertas ativos e os comandos pendentes. {READ_NOTE}",
                {"200": ok("O medidor.", "MedidorDetalhado")}, errors=("401", "403", "404"),
                parameters=[meter_param()]),
            "put": operation("Medidores", "Substitui o cadastro de um medidor",
                f"Os campos omitidos voltam ao padrão. {WRITE_NOTE}",
                {"200": ok("O medidor alterado.", "MedidorDetalhado")},
                errors=("401", "403", "404") + BODY_ERRORS, parameters=[meter_param()],
                body=json_body(ref("CamposDoMedidor"), "Os campos editáveis.",
                                {"campos": ("Nome, limite e tarifa", METER_FIELDS_EXAMPLE)})),
            "delete": operation("Medidores", "Apaga um medidor",
                "Apaga o medidor, suas leituras, alertas, faturas, comandos e chaves. Só a chave de administração.",
                {"204": {"description": "Apagado."}}, errors=("401", "403", "404"),
                # Postman and schemathesis' example phase send this example: never the demo meter.
                parameters=[meter_param("medidor-descartado")]),
        },
        f"{METER}/leituras": {
            "get": operation("Leituras", "Leituras brutas, paginadas",
                "As leituras em ordem de instante (e de seq no mesmo instante). Quando há mais, `proxima_pagina` "
                "traz o caminho da "
                f"seguinte. Para totais por período use `/consumo`. {READ_NOTE}",
                {"200": ok("Uma página de leituras.", "PaginaDeLeituras")},
                errors=("401", "403", "404", "422"), parameters=[meter_param(), *paging]),
            "post": operation("Leituras", "Envia uma leitura ou um lote",
                f"Uma leitura, ou `{{\"leituras\": [...]}}` com até {MAX_BATCH}. Um seq já gravado "
                "é contado em `duplicadas` e não é gravado de novo, então reenviar é seguro. Num lote, as "
                "leituras válidas são gravadas e as inválidas voltam em `rejeitadas`; se nenhuma for válida, "
                "422 com todos os motivos. A resposta entrega os comandos pendentes do medidor. "
                f"{WRITE_NOTE}",
                {"200": ok("Gravadas (ou já gravadas).", "ResultadoDoEnvio")},
                errors=("401", "403", "404") + BODY_ERRORS, parameters=[meter_param()],
                body=json_body({"oneOf": [ref("Leitura"), ref("LoteDeLeituras")]}, "Uma leitura ou um lote.",
                                {"leitura": ("Uma leitura", READING_EXAMPLE),
                                 "lote": ("Um lote com medidas extras", BATCH_EXAMPLE)})),
        },
        f"{METER}/ao-vivo": {"get": operation("Leituras", "Espera a próxima leitura (long poll)",
            "Responde assim que houver leitura com seq maior que `apos` (até "
            f"{LIVE_BATCH} por resposta), ou 204 depois de `espera` segundos sem nenhuma. "
            f"Repita com `apos` igual ao `ultimo_seq` recebido. {READ_NOTE}",
            {"200": ok("Leituras novas.", "LeiturasAoVivo"),
             "204": {"description": "Nenhuma leitura nova durante a espera."}},
            errors=("401", "403", "404", "422"), parameters=[
                meter_param(),
                query("apos", {"type": "integer", "minimum": -1, "maximum": 2**63 - 1},
                       "Responder com as leituras de seq maior que este; -1 pede todas desde o início. "
                       "Sem ele, espera a próxima depois da última gravada.", 42),
                query("espera", {"type": "number", "minimum": 0, "maximum": wait,
                                  "default": live_api.DEFAULT_WAIT_S},
                       "Segundos a esperar por uma leitura nova; 0 responde na hora.", 0),
            ])},
    }

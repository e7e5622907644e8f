"""What the document says about consumption, invoices, alerts, commands and tariffs, by path and
method. servidor/api/openapi/__init__.py pairs each with the route that answers it."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import (
    EXAMPLE_MONTH,
    NEW_TARIFF_EXAMPLE,
    TARIFF_REPLACEMENT_EXAMPLE,
    instant_query,
    json_body,
    meter_param,
    ok,
    operation,
    query,
    ref,
    tariff_param,
)
from servidor.api.openapi.operations_meters import BODY_ERRORS, READ_NOTE, WRITE_NOTE
from servidor.api.routes import METER
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS
from servidor.domain import alerts, commands
from servidor.domain.consumption import MAX_QUERY_COST
from servidor.domain.invoices import MAX_MONTHS
from shared.contract import API_PREFIX


def report_operations() -> dict[str, dict[str, Any]]:
    return {
        f"{METER}/consumo": {"get": operation("Consumo e faturas", "kWh por hora, dia ou mês",
            "O consumo por período no calendário local do medidor (dias de 23 ou 25 horas no horário de "
            "verão incluídos), com a cobertura de leituras de cada período. Sem `de`, as últimas 24 horas, "
            f"30 dias ou 365 dias; períodos futuros não aparecem. No máximo {MAX_BUCKETS} períodos, e períodos × "
            f"dias abrangidos até {MAX_QUERY_COST} (mais que isso é 400 `consulta_grande_demais`). {READ_NOTE}",
            {"200": ok("O consumo.", "Consumo")}, errors=("400", "401", "403", "404", "422"), parameters=[
                meter_param(),
                instant_query("de", "Início.", "2026-10-01"),
                instant_query("ate", "Fim (uma data inclui o dia inteiro; padrão: agora).", "2026-10-31"),
                query("intervalo", {"enum": list(INTERVALS), "default": "dia"}, "Tamanho dos períodos.", "dia"),
            ])},
        f"{METER}/faturas": {"get": operation("Consumo e faturas", "Faturas mensais",
            f"Uma fatura por mês, do mês atual (aberta) até o da primeira leitura (no máximo {MAX_MONTHS}). Um mês "
            f"fechado é reemitido, com nova `versao`, se dados atrasados ou a tarifa o mudarem. {READ_NOTE}",
            {"200": ok("As faturas, da mais recente à mais antiga.", "ListaDeFaturas")},
            errors=("401", "403", "404"), parameters=[meter_param()])},
        f"{METER}/faturas/{{mes}}": {"get": operation("Consumo e faturas", "A fatura de um mês",
            f"A fatura do mês `AAAA-MM` (1970-01 a 9998-12). Um mês que ainda não começou é 404. {READ_NOTE}",
            {"200": ok("A fatura.", "Fatura")}, errors=("401", "403", "404", "422"), parameters=[
                meter_param(),
                {"name": "mes", "in": "path", "required": True, "description": "O mês, `AAAA-MM`.",
                 "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "example": EXAMPLE_MONTH},
            ])},
        f"{METER}/alertas": {
            "get": operation("Alertas", "Alertas do medidor",
                f"Todos os alertas, do mais recente ao mais antigo, reconhecidos ou não. {READ_NOTE}",
                {"200": ok("Os alertas.", "ListaDeAlertas")}, errors=("401", "403", "404"),
                parameters=[meter_param()]),
            "post": operation("Alertas", "O agente informa uma falha",
                f"Tipos `{'`, `'.join(alerts.AGENT_ALERT_TYPES)}`. Enquanto o alerta de uma `chave` está aberto, "
                "repeti-la não cria outro: conta em `ocorrencias` e a resposta é 200 com `duplicado`; depois de "
                f"reconhecido, a mesma falha abre um alerta novo. {WRITE_NOTE}",
                {"201": ok("Alerta criado.", "Alerta"),
                 "200": ok("O alerta desta chave já estava aberto; a repetição foi contada.", "AlertaDuplicado")},
                errors=("401", "403", "404") + BODY_ERRORS, parameters=[meter_param()],
                body=json_body(ref("NovoAlerta"), "A falha.", {"falha": ("Dispositivo sem resposta", {
                    "tipo": "falha_dispositivo", "mensagem": "Modbus sem resposta há 5 minutos",
                    "chave": "modbus"})})),
        },
        f"{METER}/alertas/{{alerta}}/reconhecer": {"post": operation("Alertas", "Reconhece um alerta",
            f"Marca o alerta como reconhecido (repetir não muda nada). Sem corpo. {READ_NOTE}",
            {"200": ok("O alerta reconhecido.", "Alerta")}, errors=("401", "403", "404"), parameters=[
                meter_param(),
                {"name": "alerta", "in": "path", "required": True, "description": "Id do alerta.",
                 "schema": {"type": "string"}, "example": "3f2a9c1b7d4e"},
            ])},
        f"{METER}/comandos": {
            "get": operation("Comandos", "Comandos pendentes",
                f"Os comandos ainda não entregues ao agente. {READ_NOTE}",
                {"200": ok("Os comandos pendentes.", "ListaDeComandos")}, errors=("401", "403", "404"),
                parameters=[meter_param()]),
            "post": operation("Comandos", "Envia um comando ao medidor",
                "O cadastro muda na hora (estado, multiplicador, limite) e o agente recebe o comando na resposta "
                f"à sua próxima leitura. Ficam na fila os {commands.MAX_PENDING} mais recentes. {READ_NOTE}",
                {"202": ok("Enfileirado.", "Comando")}, errors=("401", "403", "404") + BODY_ERRORS,
                parameters=[meter_param()],
                body=json_body(ref("NovoComando"), "O comando.", {
                    "pausar": ("Pausar o envio", {"comando": "pausar"}),
                    "limite": ("Novo limite do mês", {"comando": "limite", "valor": 300}),
                })),
        },
        f"{API_PREFIX}/tarifas": {
            "get": operation("Tarifas", "Lista as tarifas", "Com qualquer chave.",
                {"200": ok("As tarifas.", "ListaDeTarifas")}, errors=("401",)),
            "post": operation("Tarifas", "Cria uma tarifa",
                "Só a chave de administração. Um id que já existe é 409.",
                {"201": ok("Criada.", "Tarifa")}, errors=("401", "403", "409") + BODY_ERRORS,
                body=json_body(ref("NovaTarifa"), "A tarifa.", {"faixas": ("Tarifa social", NEW_TARIFF_EXAMPLE)})),
        },
        f"{API_PREFIX}/tarifas/{{id}}": {
            "get": operation("Tarifas", "Uma tarifa", "Com qualquer chave.",
                {"200": ok("A tarifa.", "Tarifa")}, errors=("401", "404"), parameters=[tariff_param()]),
            "put": operation("Tarifas", "Substitui uma tarifa",
                "Só a chave de administração. Corrigir um preço corrige as faturas: as de meses fechados são "
                "reemitidas.",
                {"200": ok("A tarifa alterada.", "Tarifa")}, errors=("401", "403", "404") + BODY_ERRORS,
                parameters=[tariff_param()],
                body=json_body(ref("TarifaSubstituta"), "A tarifa inteira.",
                                {"faixas": ("Residencial com faixas", TARIFF_REPLACEMENT_EXAMPLE)})),
            "delete": operation("Tarifas", "Apaga uma tarifa",
                "Só a chave de administração. A tarifa `padrao` não pode ser apagada (409); medidores com uma "
                "tarifa apagada são cobrados pela padrão.",
                {"204": {"description": "Apagada."}}, errors=("401", "403", "404", "409"),
                parameters=[tariff_param("tarifa-descartada")]),
        },
    }

"""What the document says about consumption, alerts and commands, by path and method (invoices and
tariffs: operations_billing.py). servidor/api/openapi/__init__.py pairs each with the route that
answers it."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import (
    instant_query,
    json_body,
    meter_param,
    ok,
    operation,
    query,
    ref,
)
from servidor.api.openapi.operations_meters import BODY_ERRORS, READ_NOTE, WRITE_NOTE
from servidor.api.routes import METER
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS
from servidor.domain import alerts, commands
from servidor.domain.consumption import MAX_QUERY_COST


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
    }

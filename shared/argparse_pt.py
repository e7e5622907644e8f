"""argparse in Portuguese: "uso:", "opções", "mostra esta ajuda e sai" and its error messages.

argparse takes every text a user reads through the module-level `_` and `ngettext` it imported
from gettext (Python ships no pt-BR catalogue for it), looked up when a help or an error is
written. `parser()` points those two names at the table below before building a parser; a text
missing from the table (a newer Python's wording) stays English, and tests/test_portuguese.py
fails on it.
"""
from __future__ import annotations

import argparse
from typing import Any

TEXTS = {
    "usage: ": "uso: ",
    "options": "opções",
    "optional arguments": "opções",
    "positional arguments": "argumentos",
    "show this help message and exit": "mostra esta ajuda e sai",
    "show program's version number and exit": "mostra a versão e sai",
    "%(prog)s: error: %(message)s\n": "%(prog)s: erro: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "opção %(argument_name)s: %(message)s",
    "unrecognized arguments: %s": "argumentos desconhecidos: %s",
    "the following arguments are required: %s": "faltam os argumentos: %s",
    "one of the arguments %s is required": "um destes argumentos é obrigatório: %s",
    "not allowed with argument %s": "não pode ser usado junto com %s",
    "expected one argument": "falta o valor",
    "expected at most one argument": "aceita no máximo um valor",
    "expected at least one argument": "falta pelo menos um valor",
    "ignored explicit argument %r": "valor não esperado: %r",
    "invalid %(type)s value: %(value)r": "valor inválido: %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)": "valor inválido: %(value)r (escolha entre %(choices)s)",
    "invalid choice: %(value)r, choose from %(choices)s": "valor inválido: %(value)r (escolha entre %(choices)s)",
    "ambiguous option: %(option)s could match %(matches)s": "opção ambígua: %(option)s pode ser %(matches)s",
    "unexpected option string: %s": "opção inesperada: %s",
    "can't open '%(filename)s': %(error)s": "não foi possível abrir '%(filename)s': %(error)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "comando desconhecido %(parser_name)r "
                                                               "(escolha entre %(choices)s)",
    "the following arguments are required: %s\n": "faltam os argumentos: %s\n",
}
PLURALS = {
    ("expected %s argument", "expected %s arguments"): ("falta %s valor", "faltam %s valores"),
    ("conflicting option string: %s", "conflicting option strings: %s"): ("opção repetida: %s", "opções repetidas: %s"),
}


def gettext_pt(text: str) -> str:
    return TEXTS.get(text, text)


def ngettext_pt(singular: str, plural: str, n: int) -> str:
    one, many = PLURALS.get((singular, plural), (singular, plural))
    return one if n == 1 else many


def install() -> None:
    """Every argparse text a user reads from now on, in Portuguese (idempotent)."""
    argparse._ = gettext_pt  # type: ignore[attr-defined]
    argparse.ngettext = ngettext_pt  # type: ignore[attr-defined]


def parser(**options: Any) -> argparse.ArgumentParser:
    """An ArgumentParser whose help and errors are in Portuguese."""
    install()
    return argparse.ArgumentParser(**options)

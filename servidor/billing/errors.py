"""The billing layer's one exception root.

Every invalid tariff, bandeira table, cycle or consumption profile raises a BillingError whose
message is pt-BR and can be shown to the user unchanged. It subclasses ValueError so the code
that already turns ValueError into a 422 keeps doing so; `campo` names the offending field
(e.g. "versoes[1].vigencia") so an API or a form can point at it.
"""
from __future__ import annotations


class BillingError(ValueError):
    """Invalid billing input; `str(exc)` is the pt-BR message, `campo` the field, if known."""

    def __init__(self, message: str, campo: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.campo = campo

    def within(self, prefix: str) -> BillingError:
        """The same error with its field placed under `prefix` ("versoes[2]" + "icms_pct")."""
        campo = prefix if self.campo is None else f"{prefix}.{self.campo}"
        return type(self)(self.message, campo)


class InvalidTariff(BillingError):
    """A tariff, one of its versions or components is not valid."""


class InvalidFlagTable(BillingError):
    """The bandeira table is not valid."""


class InvalidCycle(BillingError):
    """A reading day or a cycle name is not valid."""


class InvalidConsumption(BillingError):
    """Consumption data cannot be billed (negative, misaligned, out of range)."""


class NoTariffInForce(BillingError):
    """The tariff has no version in force on a day the cycle needs."""

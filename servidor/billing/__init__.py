"""Pure billing computation: Brazilian bills per reading cycle, tariffs over time, comparisons.

No I/O: values in, values out, Decimal money, errors under BillingError with pt-BR messages.
"""

"""Pure billing computation: the local calendar, tariffs and invoices (no I/O, no HTTP)."""

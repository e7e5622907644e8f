"""The server's storage: documents (meters, tariffs, alerts, invoices) in TinyDB, readings in a journal."""

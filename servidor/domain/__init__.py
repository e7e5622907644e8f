"""The server's rules: meters, keys, ingestion, consumption, invoices, alerts, commands."""

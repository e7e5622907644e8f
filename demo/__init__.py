"""`make demo`: the whole suite (server, simulated meters and devices, the terminal app) on this
machine, from a fresh copy of db.json.example. Runs from a checkout: `python -m demo`."""

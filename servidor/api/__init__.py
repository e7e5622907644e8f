"""The HTTP API: routes and handlers that turn requests into calls on the domain."""

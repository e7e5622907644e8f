"""Code shared by servidor, medidor and usuario: HTTP protocol, models, tariffs, calendar."""

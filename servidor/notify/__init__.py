"""Messages that leave the server for people: alerts POSTed to webhooks."""

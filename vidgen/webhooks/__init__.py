"""Webhooks: signed, durable deliveries of generation events (see ``store.webhooks`` for the
outbox and ``dispatch`` for the loop that delivers it)."""

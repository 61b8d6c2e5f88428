"""Outbound events: operators subscribe a URL to what happens in cases (`subscriptions`),
each command writes its events to an outbox in its own transaction (`events`), and the
scheduler posts them signed with HMAC-SHA256 (`signing`), retried with backoff and
logged (`delivery`). docs/WEBHOOKS.md says what a receiver gets."""

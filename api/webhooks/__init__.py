"""Signed webhooks: the outbox worker, and the helper merchants use to verify signatures."""

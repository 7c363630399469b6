"""Adapters at the edge: mailboxes, outboxes and the store, one library each."""

"""Service modules: what the backend does, free of HTTP (sessions, events, links, webhooks)."""

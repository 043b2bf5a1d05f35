"""A tiny backend, written the way real services leak (and the way they don't)."""

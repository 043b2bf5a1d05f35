"""Helpers that open generated pages in a real headless browser."""

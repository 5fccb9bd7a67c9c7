"""Piccolo tables, one module per area, and the database lifecycle helpers."""

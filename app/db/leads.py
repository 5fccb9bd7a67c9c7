"""Leads posted by sponsors and lead vendors: their source, sub-ids and consent record."""

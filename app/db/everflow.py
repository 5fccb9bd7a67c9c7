"""Everflow connections and the conversion records pulled from its reporting API."""

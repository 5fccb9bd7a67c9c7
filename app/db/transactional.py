"""Transactional messages sent through the API, one row per recipient beside its delivery."""

"""API keys: a hash of each key, its scopes, expiry, allowed addresses and last use."""

"""Keeping personal data out of logs."""


def mask_email(address: str) -> str:
    """`bob@example.com` -> `b***@example.com`: enough to debug, not enough to identify."""
    local, sep, domain = address.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"

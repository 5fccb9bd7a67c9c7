"""The fast address check never disagrees with email-validator, and normalises the same way."""

from __future__ import annotations

import random

from email_validator import EmailNotValidError, validate_email

from app.services.imports.rows import _plain, clean_email

CRAFTED = [
    "a@b.co", "a@b.c", "x--y@a.com", "a@xn--bcher-kva.ch", "a@ab--c.com", "a.b@c.d.e", ".a@b.com", "a.@b.com",
    "a..b@c.com", "a@-b.com", "a@b-.com", "a@b.c0m", "a@b.test", "a@b.localhost", "a@b.onion", "a@local",
    "a@1.com", "a@b.museum", "!#$%&'*+/=?^_`{|}~-@x.org", "a@b..com", "a@.b.com", "a@b.com.", "a@b_c.com",
    "a" * 64 + "@b.com", "a" * 65 + "@b.com", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
    ("a" * 60 + ".") * 3 + "@b.com", "a@" + ".".join(["b" * 60] * 4) + ".com", "a@b.c-m", "a@b.1a", "a@123.456",
    "user+tag@gmail.com", "a@[1.2.3.4]", '"quoted"@b.com', "a b@c.com", "a@b", "@b.com", "a@", "a@b@c.com",
]


def _random_addresses(count: int) -> list[str]:
    alphabet = "abcz09.-_+@!~'" + "é"
    randomly = random.Random(11)
    made = []
    for _ in range(count):
        local = "".join(randomly.choice(alphabet) for _ in range(randomly.randint(1, 12)))
        domain = "".join(randomly.choice("ab0-.") for _ in range(randomly.randint(1, 10)))
        made.append(f"{local}@{domain}.{randomly.choice(['com', 'c', 'test', 'x1', 'io', 'de'])}")
    return made


def test_fast_path_agrees_with_email_validator():
    checked = 0
    for address in CRAFTED + _random_addresses(20_000):
        if not _plain(address):
            continue
        checked += 1
        try:
            normalized = validate_email(address, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise AssertionError(f"fast path accepted {address!r}, email-validator refuses: {exc}") from exc
        assert normalized == address
    assert checked > 1000


def test_cleaning_trims_unwraps_and_lowercases():
    assert clean_email("  Jane Doe <Jane.Doe@Example.COM> ") == ("jane.doe@example.com", "example.com")
    assert clean_email("mailto:BOB@example.org") == ("bob@example.org", "example.org")
    assert clean_email("Zoe\u0301@Exa\u0301mple.com") == ("zoé@exámple.com", "exámple.com")
    assert clean_email("") == "missing email"
    assert clean_email("a@b.test").startswith("invalid email: ")

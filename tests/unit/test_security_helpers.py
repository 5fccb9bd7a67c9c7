import pytest

from app.services.passwords import hash_password, password_matches, password_problem
from app.services.privacy import mask_email
from app.services.tenancy import TenancyError, checked_workspace_id, owned_by
from app.services.tokens import new_token, signed, token_hash, unsigned
from app.web.auth import safe_next


def test_password_hash_is_argon2_and_verifies():
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert password_matches(hashed, "a long enough password")
    assert not password_matches(hashed, "a long enough passwore")
    assert not password_matches("not a hash", "anything")


def test_password_rules():
    assert password_problem("short") is not None
    assert password_problem(" padded password ") is not None
    assert password_problem("long enough password") is None


def test_tokens_are_random_and_stored_hashed():
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 40
    assert token_hash(first) != first and len(token_hash(first)) == 64


def test_signed_values_are_bound_to_key_and_purpose():
    token = signed("k" * 40, "unsubscribe", {"d": 42})
    assert unsigned("k" * 40, "unsubscribe", token) == {"d": 42}
    assert unsigned("k" * 40, "click", token) is None
    assert unsigned("x" * 40, "unsubscribe", token) is None
    assert unsigned("k" * 40, "unsubscribe", token[:-2] + "xx") is None


@pytest.mark.parametrize("value", [None, 0, -1, "1", True, 1.0])
def test_tenancy_refuses_anything_but_a_positive_workspace_id(value):
    with pytest.raises(TenancyError):
        checked_workspace_id(value)


def test_tenancy_clause_filters_on_workspace_id():
    from app.db.inbox import CapturedMessage

    clause = owned_by(CapturedMessage, 7)
    assert clause.column._meta.name == "workspace_id"
    assert clause.value == 7


def test_tenancy_clause_refuses_tables_without_workspace():
    from app.db.accounts import User

    with pytest.raises(ValueError):
        owned_by(User, 1)


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/mailing", "/mailing"), ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil", "/"),
     ("", "/"), (None, "/"), ("/a\nb", "/")],
)
def test_safe_next_only_allows_local_paths(target, expected):
    assert safe_next(target) == expected


def test_mask_email_keeps_domain_only():
    assert mask_email("bob@example.com") == "b***@example.com"
    assert mask_email("broken") == "***"

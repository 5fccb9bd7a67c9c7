"""VERP return paths: each names its workspace and delivery, signed, short enough for any MTA."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.services.bounces.return_paths import delivery_from_address, return_path_token, verp_address
from app.settings import TrackingSettings, get_settings

LARGEST_DELIVERY = 2**63 - 1
LARGEST_WORKSPACE = 2**31 - 1


def _with_key(secret: str, *previous: str):
    settings = get_settings()
    return replace(settings, security=replace(settings.security, secret_key=secret),
                   tracking=TrackingSettings(previous_keys=previous))


def test_an_address_names_its_workspace_and_delivery() -> None:
    settings = get_settings()
    address = verp_address(settings, 12, 345678, "bounces.News.example.com")

    assert address.startswith("bounces+") and address.endswith("@bounces.news.example.com")
    assert delivery_from_address(address, settings) == (12, 345678)
    assert delivery_from_address(f"Mail Delivery <{address}>", settings) == (12, 345678)


def test_the_largest_ids_fit_a_64_character_local_part() -> None:
    local = verp_address(get_settings(), LARGEST_WORKSPACE, LARGEST_DELIVERY, "b.example.com").split("@")[0]
    assert len(local) <= 64
    assert local == local.lower()


def test_an_address_whose_case_was_folded_still_names_its_delivery() -> None:
    settings = get_settings()
    address = verp_address(settings, 3, 99, "b.example.com")
    assert delivery_from_address(address.upper(), settings) == (3, 99)


@pytest.mark.parametrize("position", [8, 12, 20, -15])
def test_a_changed_character_names_nothing(position: int) -> None:
    settings = get_settings()
    address = verp_address(settings, 3, 99, "b.example.com")
    changed = address[:position] + ("a" if address[position] != "a" else "b") + address[position + 1:]
    assert delivery_from_address(changed, settings) is None


def test_a_token_cut_short_or_lengthened_names_nothing() -> None:
    settings = get_settings()
    token = return_path_token(settings, 3, 99)
    assert delivery_from_address(f"bounces+{token[:-1]}@b.example.com", settings) is None
    assert delivery_from_address(f"bounces+{token}a@b.example.com", settings) is None
    assert delivery_from_address("bounces+@b.example.com", settings) is None
    assert delivery_from_address("someone@example.com", settings) is None


def test_one_secret_cannot_sign_for_another() -> None:
    mine, theirs = _with_key("a" * 40), _with_key("b" * 40)
    assert delivery_from_address(verp_address(theirs, 3, 99, "b.example.com"), mine) is None


def test_mail_sent_before_a_key_rotation_still_names_its_delivery() -> None:
    before = _with_key("old-secret-" + "x" * 30)
    after = _with_key("new-secret-" + "y" * 30, "old-secret-" + "x" * 30)
    address = verp_address(before, 3, 99, "b.example.com")
    assert delivery_from_address(address, after) == (3, 99)
    assert return_path_token(after, 3, 99) != return_path_token(before, 3, 99)


def test_negative_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        verp_address(get_settings(), 1, -1, "b.example.com")



def test_a_bounce_address_of_its_own_keeps_its_mailbox_with_the_token_as_a_subaddress() -> None:
    settings = get_settings()
    address = verp_address(settings, 3, 99, "example.com", local="returns")

    assert address.startswith("returns+") and address.endswith("@example.com")
    assert delivery_from_address(address, settings) == (3, 99)
    with pytest.raises(ValueError):
        verp_address(settings, 3, 99, "example.com", local="x" * 50)

"""Delivery tokens: compact, verified without I/O, refused when forged, cut short, re-purposed or signed with a
key no longer listed; and over HTTP such a token gets a plain 404, never a pixel or a redirect."""

from __future__ import annotations

import pytest

from app.services.tokens import signed
from app.services.tracking.tokens import (
    DeliveryRef,
    delivery_ref,
    delivery_token,
    keys_from,
    url_is_signed,
    url_signature,
)
from tests.integration.tracking.helpers import hrefs, path_of, pixel, sent_campaign

OLD, NEW = "old-secret-key-0123456789-0123456789", "new-secret-key-0123456789-0123456789"
REF = DeliveryRef(workspace_id=7, campaign_id=1234, version=3, variant=2, delivery_id=98_765_432_101)


def test_a_token_names_its_delivery_and_is_short() -> None:
    token = delivery_token(keys_from(NEW), REF)
    assert delivery_ref(keys_from(NEW), token) == REF
    assert len(token) <= 40 and token.replace("-", "").replace("_", "").isalnum()


def test_after_a_rotation_old_tokens_verify_only_while_their_key_is_listed() -> None:
    old_token = delivery_token(keys_from(OLD), REF)
    assert delivery_ref(keys_from(NEW, (OLD,)), old_token) == REF
    assert delivery_ref(keys_from(NEW), old_token) is None
    # New tokens are signed with the new key alone.
    new_token = delivery_token(keys_from(NEW, (OLD,)), REF)
    assert delivery_ref(keys_from(OLD), new_token) is None


def _altered(token: str) -> list[str]:
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    return [flipped, token[:-1], token[:-4], token[:12], token + "A", token + "=", "", "x" * len(token),
            token[:10] + "!" + token[11:]]


@pytest.mark.parametrize("which", range(9))
def test_forged_and_truncated_tokens_are_refused(which: int) -> None:
    token = delivery_token(keys_from(NEW), REF)
    assert delivery_ref(keys_from(NEW), _altered(token)[which]) is None


def test_a_value_signed_for_another_purpose_is_not_a_delivery_token() -> None:
    keys = keys_from(NEW)
    token = delivery_token(keys, REF)
    assert delivery_ref(keys, url_signature(keys, token, 0, "https://a.example/")) is None
    assert delivery_ref(keys, signed(NEW, "unsubscribe", [7, "ada@example.org"])) is None
    assert delivery_ref(keys, signed(NEW, "web-version", [7, 98_765_432_101])) is None


def test_a_per_recipient_url_is_bound_to_its_token_link_and_address() -> None:
    keys = keys_from(NEW)
    token = delivery_token(keys, REF)
    other = delivery_token(keys, DeliveryRef(7, 1234, 3, 2, 1))
    signature = url_signature(keys, token, 4, "https://a.example/?u=1")
    assert url_is_signed(keys, token, 4, "https://a.example/?u=1", signature)
    assert not url_is_signed(keys, token, 4, "https://evil.example/", signature)
    assert not url_is_signed(keys, token, 5, "https://a.example/?u=1", signature)
    assert not url_is_signed(keys, other, 4, "https://a.example/?u=1", signature)
    assert not url_is_signed(keys_from(OLD), token, 4, "https://a.example/?u=1", signature)


async def test_forged_truncated_and_cross_purpose_tokens_get_a_plain_404(client) -> None:
    sent = await sent_campaign(recipients=1)
    html = sent.message(sent.deliveries[0], {"offer_url": "https://offers.example.com/o/1"})
    open_path, click_path = path_of(pixel(html)), path_of(hrefs(html)[0])
    token = open_path.removeprefix("/o/")
    unsubscribe = signed("test-secret-key-that-is-long-enough-0123456789", "unsubscribe",
                         [sent.workspace["id"], sent.deliveries[0]["email"]])
    for bad in [*_altered(token)[:5], unsubscribe]:
        for path in (f"/o/{bad}", click_path.replace(token, bad)):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "location" not in response.headers
            assert response.headers["content-type"].startswith("text/html")
            assert "image/gif" not in response.headers["content-type"]


async def test_a_token_of_another_workspace_campaign_leads_nowhere(client) -> None:
    sent = await sent_campaign(recipients=1)
    other = await sent_campaign(recipients=1)
    keys = keys_from("test-secret-key-that-is-long-enough-0123456789")
    # Validly signed, but naming workspace A with campaign B: no link table, no redirect.
    crossed = delivery_token(keys, DeliveryRef(sent.workspace["id"], other.campaign["id"], 3, 0,
                                               other.deliveries[0]["id"]))
    response = await client.get(f"/c/{crossed}/0")
    assert response.status_code == 404

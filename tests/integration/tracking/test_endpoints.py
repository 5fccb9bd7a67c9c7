"""The open pixel and the click redirect, followed from the links of a rendered message to rows in events."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.db.audience import Subscriber
from app.services.tracking import robot_rules
from app.services.tracking.events import STREAM
from app.services.tracking.figures import campaign_figures
from app.services.tracking.tokens import keys_from, url_signature
from tests.integration.tracking.helpers import BASE, NO_FIGURES, drain_all, hrefs, path_of, pixel, sent_campaign

OFFER = "https://offers.example.com/go?aff=12"


async def _events(campaign_id: int) -> list[dict]:
    return await Subscriber.raw("SELECT kind, delivery_id, subscriber_id, url, link_index, meta FROM events "
                                "WHERE campaign_id = {} ORDER BY id", campaign_id)


async def test_open_answers_the_gif_at_once_and_lands_in_events_exactly_once(client, redis) -> None:
    sent = await sent_campaign(recipients=1)
    delivery = sent.deliveries[0]
    html = sent.message(delivery, {"offer_url": OFFER})
    response = await client.get(path_of(pixel(html)), headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone "
                                                                             "OS 17_0 like Mac OS X)"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert len(response.content) == 43 and response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    assert "set-cookie" not in response.headers
    # Answered means appended: the entry is in the stream before any aggregator ran.
    assert await redis.xlen(STREAM) == 1
    assert await drain_all(redis) == 1
    assert await drain_all(redis) == 0
    events = await _events(sent.campaign["id"])
    assert [(e["kind"], e["delivery_id"], e["subscriber_id"]) for e in events] == [
        ("open", delivery["id"], delivery["subscriber_id"])]
    assert '"os": "iOS"' in events[0]["meta"]
    subscriber = (await Subscriber.select().where(Subscriber.id == delivery["subscriber_id"]))[0]
    assert subscriber["last_open_at"] is not None and subscriber["last_click_at"] is None


async def test_repeated_opens_count_once_as_unique(client, redis) -> None:
    sent = await sent_campaign(recipients=2)
    first, second = (path_of(pixel(sent.message(d))) for d in sent.deliveries)
    for path in (first, first, first, second):
        assert (await client.get(path)).status_code == 200
    assert await drain_all(redis) == 4
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert figures == {**NO_FIGURES, **{"opens": 4, "unique_opens": 2, "clicks": 0, "unique_clicks": 0}}
    await redis.flushdb()
    # Redis lost its copy: the page reads the table the aggregator keeps beside it.
    assert await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"]) == figures


async def test_click_redirects_to_the_link_of_that_campaign_version(client, redis) -> None:
    sent = await sent_campaign(recipients=1)
    # Three links within a second are a scanner's: here one person clicks them, so that rule is off.
    burst = next(rule for rule in await robot_rules.rules_of(sent.workspace["id"]) if rule["kind"] == "link_burst")
    await robot_rules.set_enabled(sent.workspace["id"], burst["id"], False)
    links = hrefs(sent.message(sent.deliveries[0], {"offer_url": OFFER}))
    spring, account, offer, partner, unsubscribe = links
    assert partner == "https://partner.example.com/x"
    assert unsubscribe == f"{BASE}/u/{sent.deliveries[0]['id']}"
    response = await client.get(path_of(spring))
    assert response.status_code == 302
    assert response.headers["location"] == ("https://shop.example.com/spring?ref=mail&utm_source=ignite"
                                            "&utm_campaign=spring")
    response = await client.get(path_of(account))
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://shop.example.com/me?e=sub1@example.com")
    response = await client.get(path_of(offer))
    assert response.status_code == 302
    assert response.headers["location"] == OFFER
    assert await drain_all(redis) == 3
    events = await _events(sent.campaign["id"])
    assert [(e["kind"], e["link_index"]) for e in events] == [("click", 0), ("click", 1), ("click", 2)]
    assert events[2]["url"] == OFFER
    figures = await campaign_figures(redis, sent.workspace["id"], sent.campaign["id"])
    assert (figures["clicks"], figures["unique_clicks"]) == (3, 1)
    subscriber = (await Subscriber.select().where(Subscriber.id == sent.deliveries[0]["subscriber_id"]))[0]
    assert subscriber["last_click_at"] is not None


async def test_a_forged_per_recipient_url_is_refused(client, redis) -> None:
    sent = await sent_campaign(recipients=1)
    offer = hrefs(sent.message(sent.deliveries[0], {"offer_url": OFFER}))[2]
    parts = urlsplit(offer)
    for changed in (offer.replace("offers.example.com", "evil.example.com"),
                    f"{BASE}{parts.path}?u=https%3A%2F%2Fevil.example.com%2F",
                    f"{BASE}{parts.path}",
                    offer.replace(parts.path.rsplit("/", 1)[1], "A" * 22)):
        response = await client.get(path_of(changed))
        assert response.status_code == 404, changed
        assert "location" not in response.headers
    assert await redis.xlen(STREAM) == 0


async def test_a_link_of_an_index_the_version_does_not_track_is_not_redirected(client) -> None:
    sent = await sent_campaign(recipients=1)
    spring = hrefs(sent.message(sent.deliveries[0], {"offer_url": OFFER}))[0]
    for index in (1, 2, 3, 4, 99):
        response = await client.get(path_of(spring).rsplit("/", 1)[0] + f"/{index}")
        assert response.status_code == 404, index


async def test_a_javascript_url_is_never_redirected_to(client, redis) -> None:
    html = ('<p><a href="javascript:alert(1)">Script</a><a href="{{ site }}">Site</a>'
            '<a href="https://shop.example.com/">Shop</a></p>')
    sent = await sent_campaign(recipients=1, html=html)
    links = hrefs(sent.message(sent.deliveries[0], {"site": "javascript:alert(document.cookie)"}))
    assert not any("javascript" in link.lower() for link in links)
    shop = next(link for link in links if "/c/" in link)
    token, shop_index = path_of(shop).split("/")[2:4]
    keys = keys_from("test-secret-key-that-is-long-enough-0123456789")
    for index in range(4):
        by_index = await client.get(f"/c/{token}/{index}")
        assert by_index.status_code == (302 if str(index) == shop_index else 404)
        signature = url_signature(keys, token, index, "javascript:alert(1)")
        signed = await client.get(f"/c/{token}/{index}/{signature}", params={"u": "javascript:alert(1)"})
        assert signed.status_code == 404
        assert "location" not in signed.headers
    assert (await client.get(shop.removeprefix(BASE))).headers["location"].startswith("https://shop.example.com/")

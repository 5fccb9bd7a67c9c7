"""List-Unsubscribe and RFC 8058 One-Click headers: the delivery's own https link, never a placeholder, and
a plain reason on the Delivery step when one-click cannot work."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest

from app.db.inbox import CapturedMessage
from app.services.campaigns.content import compiled_campaign
from app.services.inbox import captured_message
from app.services.rendering import CampaignContent, CampaignSettings, CompiledMessage, PatternUrls
from app.services.template_previews import send_test
from app.services.templates import create_template
from app.services.tracking.recipients import one_click_problem
from app.settings import get_settings
from tests.factories import make_workspace
from tests.integration.tracking.helpers import sent_campaign

ONE_CLICK = "List-Unsubscribe=One-Click"
HTML = '<p>Hi</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'


@pytest.fixture
def https_base_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("BASE_URL", "https://mail.example.com")
    get_settings.cache_clear()
    yield "https://mail.example.com"
    monkeypatch.undo()
    get_settings.cache_clear()


def _headers(urls: PatternUrls) -> email.message.Message:
    compiled = CompiledMessage(CampaignContent("h", "Hi", HTML),
                               CampaignSettings(from_email="news@news.example.com", urls=urls))
    return email.message_from_bytes(compiled.render({"email": "zoe@example.com"}, 7), policy=email.policy.default)


def test_one_click_goes_with_an_https_link_only():
    https = _headers(PatternUrls("https://mail.example.com/u/{delivery_id}", "mailto:u@example.com", "#v"))
    assert https["List-Unsubscribe"] == "<mailto:u@example.com>, <https://mail.example.com/u/7>"
    assert https["List-Unsubscribe-Post"] == ONE_CLICK

    plain = _headers(PatternUrls("http://127.0.0.1:8000/u/{delivery_id}", "mailto:u@example.com", "#v"))
    assert plain["List-Unsubscribe"] == "<mailto:u@example.com>, <http://127.0.0.1:8000/u/7>"
    assert plain["List-Unsubscribe-Post"] is None

    placeholder = _headers(PatternUrls("#unsubscribe", "", "#v"))
    assert placeholder["List-Unsubscribe"] is None and placeholder["List-Unsubscribe-Post"] is None


async def test_a_campaign_message_offers_one_click_on_its_delivery_link_over_https(https_base_url):
    sent = await sent_campaign(recipients=1)
    delivery = sent.deliveries[0]
    compiled = await compiled_campaign(sent.campaign, sent.campaign["list_ids"])
    raw = compiled.render({"id": delivery["subscriber_id"], "email": delivery["email"]}, delivery["id"])
    message = email.message_from_bytes(raw, policy=email.policy.default)

    pixel = compiled.settings.open_pixel.url(str(delivery["id"]))
    token = pixel.rpartition("/o/")[2]
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    assert f"<{https_base_url}/u/{token}>" in message["List-Unsubscribe"]


async def test_a_test_send_carries_no_unsubscribe_header_pointing_at_a_placeholder(redis):
    workspace = await make_workspace()
    template = await create_template(workspace["id"], {"name": "T", "subject": "Hello", "html": HTML}, None)

    sent = await send_test(redis, workspace["id"], template, {"recipients": "qa@example.com"})

    assert sent.sent == 1
    row = await CapturedMessage.select(CapturedMessage.id).first()
    headers = dict((await captured_message(workspace["id"], row["id"])).headers)
    assert "List-Unsubscribe-Post" not in headers and "List-Unsubscribe" not in headers


@pytest.mark.parametrize(("base_url", "problem"), [
    ("http://mail.example.com", "needs https"),
    ("https://localhost:8000", "cannot reach localhost"),
    ("https://ignite.local", "cannot reach ignite.local"),
    ("https://10.1.2.3", "cannot reach 10.1.2.3"),
    ("https://mail.example.com", None),
])
def test_one_click_problem_says_why_providers_could_not_use_it(base_url, problem):
    found = one_click_problem(base_url)
    assert (found is None) if problem is None else (problem in found)

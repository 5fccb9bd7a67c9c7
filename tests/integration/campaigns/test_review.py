"""The launch review: each problem is flagged (and launch refuses it), warnings do not stop a launch, and the
quota and estimated finish follow from the pool's quotas and the speed limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db.campaigns import Campaign, Delivery
from app.db.content import EmailTemplate, SendingDomain
from app.db.delivery import DeliveryServer
from app.services import campaigns
from app.services.accounts import now
from app.services.campaigns import variants
from app.services.campaigns.review import review
from app.services.delivery_servers import set_status
from app.services.templates import create_template
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server

NO_UNSUBSCRIBE = "<p>Hello {{ email }}, <a href=\"https://shop.example.com/\">see the shop</a>.</p>"
HIDDEN_UNSUBSCRIBE = "<p>Hello</p>{% if false %}<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>{% endif %}"


def _levels(result) -> dict[str, str]:
    """The worst level of each check key."""
    order = {"ok": 0, "warning": 1, "problem": 2}
    levels: dict[str, str] = {}
    for check in result.checks:
        if order[check.level] >= order[levels.get(check.key, "ok")]:
            levels[check.key] = check.level
    return levels


async def _campaign(recipients: int = 3, **values) -> tuple[dict, dict]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, recipients)
    return workspace, await ready_campaign(workspace["id"], [mailing_list["id"]], **values)


async def test_a_ready_campaign_passes_and_its_review_is_kept():
    workspace, campaign = await _campaign(5)
    result = await review(workspace["id"], campaign["id"])
    assert result.can_launch and result.recipients == 5
    assert (result.quota_today, result.estimated_finish) == (None, None)  # the development inbox has no limit
    assert _levels(result) == {"template": "ok", "unsubscribe": "ok", "sender": "ok", "dns": "ok",
                               "audience": "ok", "quota": "ok"}
    kept = (await campaigns.get_campaign(workspace["id"], campaign["id"]))["review"]
    assert kept["recipients"] == 5 and {check["key"] for check in kept["checks"]} >= {"template", "dns", "quota"}


@pytest.mark.parametrize(("html", "subject", "key", "field"), [
    (NO_UNSUBSCRIBE, "Hi", "unsubscribe", "template_id"),
    (HIDDEN_UNSUBSCRIBE, "Hi", "unsubscribe", "template_id"),
    ("<p>{{ unsubscribe_url }}</p>", "", "subject", "subject"),
])
async def test_a_content_problem_is_flagged_and_launch_refuses_it(redis, queue, html, subject, key, field):
    workspace, campaign = await _campaign(html=html)
    await EmailTemplate.update({EmailTemplate.subject: subject}).where(EmailTemplate.id == campaign["template_id"])
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)[key] == "problem" and not result.can_launch
    with pytest.raises(campaigns.CampaignError) as refused:
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    assert set(refused.value.errors) == {field}
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "draft"
    assert await Delivery.count().where(Delivery.campaign_id == campaign["id"]) == 0


async def test_a_template_that_cannot_render_or_is_missing_is_a_problem(redis, queue):
    workspace, campaign = await _campaign()
    # Saved before the editor checked templates: the review compiles it again, off the event loop.
    await EmailTemplate.update({EmailTemplate.html: "<p>{{ unsubscribe_url }} {% for %}</p>"}).where(
        EmailTemplate.id == campaign["template_id"])
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)["template"] == "problem"
    assert any("cannot be rendered" in check.message for check in result.checks)
    await Campaign.update({Campaign.template_id: None}).where(Campaign.id == campaign["id"])
    with pytest.raises(campaigns.CampaignError, match="Choose the template"):
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)


async def test_an_audience_nobody_can_be_mailed_in_is_a_problem(redis, queue):
    workspace, campaign = await _campaign(0)
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)["audience"] == "problem" and result.recipients == 0
    with pytest.raises(campaigns.CampaignError) as refused:
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    assert "list_ids" in refused.value.errors


async def test_size_links_and_images_are_warnings_that_do_not_stop_a_launch(redis, queue):
    workspace, campaign = await _campaign()
    heavy = ("<p>" + "Plenty to say. " * 8_000 + "</p><a href=\"htp//broken\">Broken</a><img src=\"https://"
             "shop.example.com/a.png\"><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>")
    template = await create_template(workspace["id"], {"name": "Heavy", "subject": "Hi", "html": heavy}, None)
    await Campaign.update({Campaign.template_id: template["id"]}).where(Campaign.id == campaign["id"])
    result = await review(workspace["id"], campaign["id"])
    levels = _levels(result)
    assert (levels["size"], levels["links"], levels["images"]) == ("warning", "warning", "warning")
    assert result.can_launch
    launched = await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    assert launched["status"] == "sending"


@pytest.mark.parametrize(("records", "level"), [
    ({"SPF": True, "DKIM": False, "DMARC": True}, "problem"),
    ({"SPF": False, "DKIM": True, "DMARC": True}, "problem"),
    ({"SPF": True, "DKIM": True, "DMARC": False}, "warning"),
    ({"SPF": True, "DKIM": True, "DMARC": True}, "ok"),
])
async def test_the_sending_domains_dns_records_are_checked(records, level):
    workspace, campaign = await _campaign()
    await SendingDomain.update({SendingDomain.dns_status: records, SendingDomain.checked_at: now()}).where(
        SendingDomain.workspace_id == workspace["id"])
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)["dns"] == level
    assert result.can_launch == (level != "problem")


async def test_an_address_off_the_sending_domains_is_a_problem():
    workspace, campaign = await _campaign()
    await Campaign.update({Campaign.from_email: "news@elsewhere.example.org"}).where(Campaign.id == campaign["id"])
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)["sender"] == "problem" and result.problems_by_field().keys() == {"from_email"}


async def test_the_quota_left_today_sets_the_estimated_finish():
    workspace, campaign = await _campaign(30)
    server = await smtp_server(workspace["id"], 2525)
    await set_status(workspace["id"], server["id"], "active", "")
    await DeliveryServer.update({DeliveryServer.daily_quota: 10}).where(DeliveryServer.id == server["id"])
    before = now()
    result = await review(workspace["id"], campaign["id"])
    assert result.quota_today == 10 and _levels(result)["quota"] == "warning" and result.can_launch
    # 10 today, then 20 more at 10 a day: two more days.
    assert timedelta(days=2) <= result.estimated_finish - before <= timedelta(days=2, minutes=5)
    await set_status(workspace["id"], server["id"], "paused", "maintenance")
    paused = await review(workspace["id"], campaign["id"])
    assert _levels(paused)["quota"] == "problem" and not paused.can_launch


async def test_the_speed_limit_sets_the_estimated_finish():
    workspace, campaign = await _campaign(30)
    await Campaign.update({Campaign.speed_per_hour: 60}).where(Campaign.id == campaign["id"])
    before = now()
    result = await review(workspace["id"], campaign["id"])
    assert timedelta(minutes=30) <= result.estimated_finish - before <= timedelta(minutes=35)


async def test_a_test_too_small_to_tell_is_a_warning_and_a_variant_without_template_a_problem(redis, queue):
    workspace, campaign = await _campaign(10)
    second = await create_template(workspace["id"], {"name": "Second", "subject": "Hi",
                                                     "html": "<p>{{ unsubscribe_url }}</p>"}, None)
    await variants.save_content(workspace["id"], campaign["id"], {
        "ab_dimension": "content", "ab_test_percent": "50", "variant_1_template_id": str(campaign["template_id"]),
        "variant_2_template_id": str(second["id"])})
    result = await review(workspace["id"], campaign["id"])
    assert _levels(result)["ab"] == "warning" and result.can_launch
    await EmailTemplate.delete().where(EmailTemplate.id == second["id"])
    with pytest.raises(campaigns.CampaignError, match="Variant 2: Choose the template"):
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)

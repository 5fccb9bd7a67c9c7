"""The security walks, run over the campaign routes with a real campaign of the first workspace (the shared
walk's first workspace has none): bad parameters never give a 500, a member of another workspace gets a 404
and changes nothing, an analyst is refused every change."""

from __future__ import annotations

from app.db.content import SendingDomain
from app.services import campaigns
from app.services.accounts import now
from app.services.templates import create_template
from tests.factories import login, make_user, make_workspace
from tests.integration.campaigns.helpers import HTML, PERSON, LocalQueue
from tests.integration.security.test_route_walk import bad_requests
from tests.integration.security.test_tenancy_walk import REFUSED, snapshot
from tests.integration.security.walking import call, each_endpoint, first_workspace, id_form, path_values_for

MODULE = "app.routes.campaigns"


async def _with_campaigns(redis, adapters) -> tuple:
    """The first workspace, with a draft and a campaign that was sent (deliveries for the send log)."""
    first = await first_workspace()
    workspace_id = first.workspace["id"]
    await SendingDomain.update({SendingDomain.checked_at: now(), SendingDomain.dns_status: {"SPF": True, "DKIM": True}}
                               ).where(SendingDomain.id == first.ids["domain_id"])
    template = await create_template(workspace_id, {"name": "ZqOfferXv", "subject": "Hi", "html": HTML}, None)
    values = {"name": "ZqCampaignXv", "from_email": "zq@zqdomain.example", "template_id": str(template["id"]),
              "list_ids": [str(first.ids["list_id"])]}
    sent = await campaigns.create_draft(workspace_id, values)
    queue = LocalQueue()
    await campaigns.launch(redis, queue, workspace_id, sent["id"], PERSON)
    await queue.drain(redis, adapters)
    draft = await campaigns.create_draft(workspace_id, values)
    return first, {**first.ids, "campaign_id": draft["id"], "step": "setup"}, sent["id"]


async def test_bad_parameters_never_give_a_500_on_campaign_routes(client, app, redis, adapters):
    first, ids, sent_id = await _with_campaigns(redis, adapters)
    await login(client, first.owner["email"])
    failures = []
    for campaign_id in (ids["campaign_id"], sent_id):
        for endpoint in each_endpoint(app, modules={MODULE}):
            values = path_values_for(endpoint, {**ids, "campaign_id": campaign_id})
            for url, query, form in bad_requests(endpoint, values):
                response = await call(client, endpoint, url, query, form)
                if response.status_code >= 500:
                    failures.append(f"{endpoint}: {url} query={query} form={form} -> {response.status_code}")
    assert not failures, "\n".join(failures)


async def test_another_workspace_gets_404_and_changes_nothing_on_campaign_routes(client, app, redis, adapters):
    first, ids, sent_id = await _with_campaigns(redis, adapters)
    stranger = await make_user(await make_workspace("Second Co"), "owner", email="stranger@second.example")
    await login(client, stranger["email"])
    before = await snapshot(first.workspace["id"])
    wrong, leaks = [], []
    for campaign_id in (ids["campaign_id"], sent_id):
        for endpoint in each_endpoint(app, modules={MODULE}):
            if not endpoint.int_params:
                continue
            url = endpoint.url({**ids, "campaign_id": campaign_id})
            response = await call(client, endpoint, url, {"email": "reader1@example.com"}, id_form(first.ids))
            if response.status_code not in REFUSED:
                wrong.append(f"{endpoint}: {response.status_code}")
            leaks += [f"{endpoint}: {secret}" for secret in [*first.leaked(response.text), "ZqCampaignXv"]
                      if secret in response.text]
    assert not wrong, wrong
    assert not leaks, leaks
    assert await snapshot(first.workspace["id"]) == before


async def test_an_analyst_is_refused_every_campaign_change(client, app, redis, adapters):
    first, ids, _ = await _with_campaigns(redis, adapters)
    analyst = await make_user(first.workspace, "analyst", email="zqanalyst@first.example")
    await login(client, analyst["email"])
    before = await snapshot(first.workspace["id"])
    wrong, walked = [], []
    for endpoint in each_endpoint(app, modules={MODULE}):
        if endpoint.least_role == "analyst":
            continue
        walked.append(str(endpoint))
        response = await call(client, endpoint, endpoint.url(ids), form=id_form(first.ids))
        if response.status_code != 403:
            wrong.append(f"{endpoint}: {response.status_code}")
    assert not wrong, wrong
    assert "POST /mailing/campaigns/{campaign_id:int}/launch" in walked
    assert await snapshot(first.workspace["id"]) == before

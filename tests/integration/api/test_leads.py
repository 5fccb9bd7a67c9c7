"""The lead intake: the subscriber joins through the subscriber service, the lead keeps source, sub-ids and
consent; duplicates and suppressed addresses are refused with stable codes; the consent is in the person's export
and goes with an erasure."""

from __future__ import annotations

from app.db.audience import Subscriber
from app.db.inbox import CapturedMessage
from app.db.leads import Lead
from app.services import custom_fields, privacy, subscribers, suppression
from app.services.suppression.entries import Entry
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber, make_workspace

CONSENT = {"ip": "203.0.113.9", "timestamp": "2026-11-30T18:04:00Z", "page_url": "https://offers.example/win",
           "text": "Yes, send me the Acme newsletter."}


async def _vendor(scopes=("leads:write",), **list_settings) -> tuple[dict, dict, dict[str, str]]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Sweepstakes", **list_settings)
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "First name"})
    return workspace, mailing_list, bearer(await api_key(workspace, scopes=scopes))


def _lead(mailing_list: dict, email: str = "Winner@Example.com", **extra) -> dict:
    return {"list_id": mailing_list["id"], "email": email, "source": "Acme Leads", "sub1": "aff-17", "sub3": "c9",
            "fields": {"first_name": "Wyn"}, "consent": CONSENT, **extra}


async def test_a_lead_adds_the_subscriber_and_keeps_its_source_and_consent(client):
    workspace, mailing_list, headers = await _vendor()
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["source"], body["sub1"], body["sub2"], body["sub3"], body["status"]) == (
        "Acme Leads", "aff-17", "", "c9", "confirmed")
    person = await subscribers.subscriber_of(workspace["id"], body["subscriber_id"])
    assert (person["email"], person["fields"], person["source"], person["ip"]) == (
        "winner@example.com", {"first_name": "Wyn"}, "lead", "203.0.113.9")
    lead = await Lead.select().where(Lead.id == body["id"]).output(load_json=True).first()
    assert lead["consent"] == {**CONSENT, "timestamp": "2026-11-30T18:04:00+00:00"}
    assert lead["workspace_id"] == workspace["id"]


async def test_a_duplicate_lead_is_refused_with_its_code(client):
    _, mailing_list, headers = await _vendor()
    await make_subscriber(mailing_list, "winner@example.com")
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "duplicate_lead"
    assert await Lead.count() == 0


async def test_a_suppressed_address_is_refused_with_its_code(client):
    workspace, mailing_list, headers = await _vendor()
    await suppression.add_entries(workspace["id"], (await suppression.blacklist(workspace["id"]))["id"],
                                  [Entry("domain", "example.com")])
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "address_suppressed"
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0


async def test_a_lead_without_a_usable_consent_record_is_refused_field_by_field(client):
    workspace, mailing_list, headers = await _vendor()
    consent = {"ip": "not-an-ip", "timestamp": "2099-01-01T00:00:00Z", "page_url": "javascript:alert(1)", "text": " "}
    answer = await client.post("/api/v1/leads", headers=headers,
                               json=_lead(mailing_list, consent=consent, source="", fields={"shoe": 1}))
    assert answer.status_code == 422
    fields = answer.json()["error"]["fields"]
    assert "fields.shoe" in fields
    answer = await client.post("/api/v1/leads", headers=headers,
                               json=_lead(mailing_list, consent=consent, source=""))
    assert set(answer.json()["error"]["fields"]) == {"consent.ip", "consent.timestamp", "consent.page_url",
                                                     "consent.text", "source"}
    assert await Subscriber.count().where(Subscriber.workspace_id == workspace["id"]) == 0
    assert await Lead.count() == 0


async def test_a_lead_for_a_double_opt_in_list_waits_for_confirmation_by_mail(client):
    workspace, mailing_list, headers = await _vendor(opt_in="double")
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "unconfirmed"
    mails = await CapturedMessage.select().where(CapturedMessage.workspace_id == workspace["id"])
    assert [mail["rcpt_to"] for mail in mails] == ["winner@example.com"]
    assert "confirm" in mails[0]["subject"].lower()


async def test_a_list_of_another_workspace_is_not_found(client):
    _, _, headers = await _vendor()
    theirs = await make_list(await make_workspace(), "Theirs")
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(theirs))
    assert answer.status_code == 404
    assert await Subscriber.count().where(Subscriber.list_id == theirs["id"]) == 0


async def test_the_consent_is_exported_with_the_person_and_erased_with_them(client):
    workspace, mailing_list, headers = await _vendor()
    await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    exported = await privacy.person_export(workspace["id"], "winner@example.com")
    assert [(lead["source"], lead["consent"]["ip"]) for lead in exported["leads"]] == [("Acme Leads", "203.0.113.9")]
    assert await privacy.erase_person(workspace["id"], "winner@example.com") == 1
    assert await Lead.count() == 0


async def test_leads_need_their_own_scope(client):
    _, mailing_list, headers = await _vendor(scopes=("subscribers:write",))
    answer = await client.post("/api/v1/leads", headers=headers, json=_lead(mailing_list))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"
    assert await Lead.count() == 0

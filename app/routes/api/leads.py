"""The lead intake a sponsor or lead vendor posts to: a subscriber, its source, sub-ids and consent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import post
from msgspec import Meta, Struct
from redis.asyncio import Redis

from app.routes.api.audience import NO_NUL, Email, api_fields
from app.services import custom_fields, leads, lists
from app.services.subscribers import SubscriberError
from app.services.subscribers.bulk import form_fields
from app.settings import get_settings
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.errors import ApiError

SubId = Annotated[str, Meta(max_length=255, pattern=NO_NUL)]


class ConsentIn(Struct):
    ip: Annotated[str, Meta(max_length=64, pattern=NO_NUL, description="the address the person agreed from")]
    timestamp: Annotated[datetime, Meta(description="when the person agreed")]
    text: Annotated[str, Meta(max_length=5000, pattern=NO_NUL, description="the consent wording the person agreed to")]
    page_url: Annotated[str, Meta(max_length=2000, pattern=NO_NUL, description="the page the person agreed on")] = ""


class LeadIn(Struct):
    list_id: int
    email: Email
    source: Annotated[str, Meta(max_length=120, pattern=NO_NUL,
                                description="the sponsor or vendor the lead comes from")]
    consent: ConsentIn
    fields: dict[str, Any] = {}
    sub1: SubId = ""
    sub2: SubId = ""
    sub3: SubId = ""
    sub4: SubId = ""
    sub5: SubId = ""


class LeadOut(Struct):
    id: int
    list_id: int
    subscriber_id: int
    status: Annotated[str, Meta(description="the subscriber's: unconfirmed on a double opt-in list until the "
                                            "person confirms by mail")]
    source: str
    sub1: str
    sub2: str
    sub3: str
    sub4: str
    sub5: str
    created_at: datetime


def _lead_out(row: dict) -> LeadOut:
    return LeadOut(**{name: row[name] for name in LeadOut.__struct_fields__ if name != "status"},
                   status=row["subscriber"]["status"])


class LeadsController(ApiController):
    path = "/api/v1/leads"
    tags = ["leads"]

    @post("/", summary="Post a lead", operation_id="createLead", opt={"scope": "leads:write"},
          responses=error_responses(400, 403, 404, 409, 422),
          description="Adds the person to the list with the lead's source, sub-ids and consent record (IP, time, "
                      "page, wording). A double opt-in list mails them a confirmation first. Refused with a stable "
                      "code: `duplicate_lead` (409) when the address is already on the list, `address_suppressed` "
                      "(422) when it is suppressed. Scope `leads:write`.")
    async def create(self, caller: ApiCaller, redis: Redis, data: LeadIn) -> LeadOut:
        if await lists.get_list(caller.workspace_id, data.list_id) is None:
            raise LookupError("list")
        tags = [field["tag"] for field in await custom_fields.fields_of(caller.workspace_id, data.list_id)]
        consent = data.consent
        try:
            lead = leads.LeadIn(
                list_id=data.list_id, email=data.email, source=data.source, fields=form_fields(tags, data.fields),
                consent=leads.Consent(consent.ip, consent.timestamp, consent.page_url, consent.text),
                sub_ids=(data.sub1, data.sub2, data.sub3, data.sub4, data.sub5))
            row = await leads.record_lead(get_settings(), redis, caller.workspace_id, lead, caller.key_id)
        except SubscriberError as exc:
            raise api_fields(exc) from exc
        except leads.LeadRefused as exc:
            raise ApiError(409 if exc.code == "duplicate_lead" else 422, exc.code, str(exc)) from exc
        return _lead_out(row)


CONTROLLERS = [LeadsController]

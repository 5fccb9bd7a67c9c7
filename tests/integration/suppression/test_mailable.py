"""Why an address is not mailable, for the subscriber page, and the filter's guard rails."""

import hashlib

import pytest

from app.db.audience import Subscriber
from app.services import suppression
from app.services.sqlparams import Params
from tests.factories import make_list, make_subscriber, make_workspace


async def test_every_reason_is_listed():
    workspace = await make_workspace()
    news = await make_list(workspace, "News")
    deals = await make_list(workspace, "Deals")
    await make_subscriber(news, "bob@example.com")
    await make_subscriber(deals, "bob@example.com", status="unsubscribed")
    blacklist = await suppression.blacklist(workspace["id"])
    offer = await suppression.create_list(workspace["id"], "Offer 9")
    await suppression.add_pasted(workspace["id"], blacklist["id"], "@example.com")
    await suppression.add_pasted(workspace["id"], offer["id"], hashlib.md5(b"bob@example.com").hexdigest())
    reasons = await suppression.why_not_mailable(workspace["id"], "Bob@Example.com")
    assert reasons == [
        "Its domain example.com is on the blacklist.",
        "It is on suppression list “Offer 9” (by MD5 hash).",
        "On list “Deals” it unsubscribed.",
    ]
    assert await suppression.why_not_mailable(workspace["id"], "ann@other.example") == []
    stranger = await make_workspace()
    assert await suppression.why_not_mailable(stranger["id"], "bob@example.com") == []


async def test_pending_double_opt_in_is_a_reason():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "News", opt_in="double")
    await make_subscriber(mailing_list, "new@example.com", status="unconfirmed")
    assert await suppression.why_not_mailable(workspace["id"], "new@example.com") == [
        "On list “News” it has not confirmed the subscription (double opt-in pending)."]
    assert await Subscriber.count() == 1


def test_the_filter_refuses_a_table_alias_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="alias"):
        suppression.mailable_sql(Params(), 1, "s; DROP TABLE subscribers")


def test_the_filter_requires_a_workspace():
    from app.services.tenancy import TenancyError

    with pytest.raises(TenancyError):
        suppression.mailable_sql(Params(), 0)

"""The subscriber search box: domains, any part of an address or a name, field values whatever their case, the
total for the filter on screen, chosen columns; and that each kind of search can use its index."""

import re

from app.db.audience import Subscriber
from app.services.custom_fields import add_field
from app.services.sqlparams import Params, fetch
from app.services.subscribers import COUNT_CAP, SubscriberFilter, search, total
from app.services.subscribers.filters import query_sql
from app.services.subscribers.search import Total
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace, signed_in_client


async def _found(workspace: dict, query: str) -> list[str]:
    rows, _ = await search(workspace["id"], SubscriberFilter(query=query), "email", limit=500)
    return [row["email"] for row in rows]


async def test_a_domain_finds_its_addresses_and_its_subdomains_only():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    for domain in ("example5.com", "example5.co.uk", "example50.com", "mail.example5.com"):
        await make_subscriber(mailing_list, f"ann@{domain}")
    assert await _found(workspace, "@example5.com") == ["ann@example5.com"]
    assert await _found(workspace, "@Example5") == ["ann@example5.co.uk", "ann@example5.com"]
    assert await _found(workspace, "@mail.example5.com") == ["ann@mail.example5.com"]
    assert await _found(workspace, "@ex") == []


async def test_text_is_found_anywhere_in_an_address():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    for address in ("user.1@example0.com", "user.2@example0.com", "user.3@example10.com", "ann.example0@other.org"):
        await make_subscriber(mailing_list, address)
    assert await _found(workspace, "example0.com") == ["user.1@example0.com", "user.2@example0.com"]
    assert await _found(workspace, "ER.3@") == ["user.3@example10.com"]
    assert await _found(workspace, "example0") == ["ann.example0@other.org", "user.1@example0.com",
                                                   "user.2@example0.com"]
    # Too short for trigrams: the start of the address.
    assert await _found(workspace, "an") == ["ann.example0@other.org"]


async def test_names_are_found_whatever_their_case_and_accents():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "z1@example.com", {"first_name": "Zoë", "last_name": "Martin"})
    await make_subscriber(mailing_list, "z2@example.com", {"first_name": "ZOE"})
    await make_subscriber(mailing_list, "z3@example.com", {"last_name": "de Zoë-Rivière"})
    await make_subscriber(mailing_list, "z4@example.com", {"city": "Zoë"})
    everyone = ["z1@example.com", "z2@example.com", "z3@example.com"]
    assert await _found(workspace, "Zoë") == everyone
    assert await _found(workspace, "zoe") == everyone
    # A name typed with combining accents (NFD), as some keyboards send it.
    assert await _found(workspace, "Zoe\u0308") == everyone
    assert await _found(workspace, "riviere") == ["z3@example.com"]
    assert await _found(workspace, "zoe martin") == []
    # One or two characters: the addresses and names that start with them.
    assert await _found(workspace, "ZO") == ["z1@example.com", "z2@example.com"]
    assert await _found(workspace, "z3") == ["z3@example.com"]


async def test_a_field_value_is_found_whatever_its_case():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "First name", "kind": "text"})
    await add_field(workspace["id"], mailing_list["id"], {"label": "Age", "kind": "number"})
    await make_subscriber(mailing_list, "a@example.com", {"first_name": "Jose", "age": 41})
    await make_subscriber(mailing_list, "b@example.com", {"first_name": "JOSE", "age": 41.0})
    await make_subscriber(mailing_list, "c@example.com", {"first_name": "Josefina", "age": "41"})
    await make_subscriber(mailing_list, "d@example.com", {"first_name": "jose"})
    assert await _found(workspace, "first_name=jose") == ["a@example.com", "b@example.com", "d@example.com"]
    assert await _found(workspace, "First name = JoSe") == ["a@example.com", "b@example.com", "d@example.com"]
    assert await _found(workspace, "age=41") == ["a@example.com", "b@example.com", "c@example.com"]
    assert await _found(workspace, "first_name=") == []


async def test_the_total_is_exact_from_the_counters_and_capped_when_counted():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, COUNT_CAP + 5, prefix="bulk", domain="example.com")
    await make_subscribers(mailing_list, 3, prefix="few", domain="example.org", status="unsubscribed")
    everyone = COUNT_CAP + 8
    assert await total(workspace["id"], SubscriberFilter()) == Total(everyone)
    assert await total(workspace["id"], SubscriberFilter(list_id=mailing_list["id"], status="unsubscribed")) == Total(3)
    assert await total(workspace["id"], SubscriberFilter(query="@example.org")) == Total(3)
    capped = await total(workspace["id"], SubscriberFilter(query="@example.com"))
    assert capped == Total(COUNT_CAP, capped=True) and capped.label == f"{COUNT_CAP:,}+"
    assert await total(workspace["id"], SubscriberFilter(query="@example.com"), cap=None) == Total(COUNT_CAP + 5)
    stranger = await make_workspace()
    assert await total(stranger["id"], SubscriberFilter()) == Total(0)


async def test_the_page_shows_the_total_chosen_columns_and_a_tick_all_box(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "First name", "kind": "text"})
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    ann = await make_subscriber(mailing_list, "ann@example5.com", {"first_name": "Ann", "city": "Lyon"})
    await make_subscriber(mailing_list, "bob@example6.com", {"first_name": "Bob", "city": "Oslo"})
    page = await client.get("/mailing/subscribers", params={"q": "@example5.com", "columns": ["city"]})
    assert re.search(r'data-testid="subscriber-total"><strong>1</strong> subscriber matches', page.text)
    assert 'data-testid="column-head-city"' in page.text and 'data-testid="column-head-first_name"' not in page.text
    assert re.search(rf'data-testid="cell-city-{ann["id"]}">Lyon<', page.text)
    assert 'data-testid="select-all"' in page.text
    assert 'data-testid="column-first_name"' in page.text
    everyone = await client.get("/mailing/subscribers", headers={"hx-request": "true"})
    assert "<strong>2</strong> subscribers match in all lists" in everyone.text and "<html" not in everyone.text


async def _plan(query: str) -> str:
    """The plan of the search box's conditions when scanning the whole table is made the costliest choice."""
    params = Params()
    where = " AND ".join(query_sql(params, query))
    async with Subscriber._meta.db.transaction():
        await fetch("SET LOCAL enable_seqscan = off")
        rows = await fetch(f"EXPLAIN SELECT s.id FROM subscribers s WHERE {where}", params)
    return "\n".join(row["QUERY PLAN"] for row in rows)


async def test_each_kind_of_search_can_use_its_index():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 200, {"first_name": "Ann"})
    assert "subscribers_search_idx" in await _plan("example0")
    assert "subscribers_domain_idx" in await _plan("@example.com")
    assert "subscribers_domain_idx" in await _plan("@example")
    assert "subscribers_search_idx" in await _plan("an")
    assert "subscribers_folded_fields_idx" in await _plan("first_name=ann")

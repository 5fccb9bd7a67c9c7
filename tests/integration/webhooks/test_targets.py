"""SSRF: private, loopback, link-local and reserved targets refused at send time unless the workspace allows them."""

from __future__ import annotations

import ipaddress

import pytest

from app.redis_client import get_redis
from app.services import webhooks
from app.services.webhooks import endpoints
from app.services.webhooks.delivery import deliver_due
from app.services.webhooks.targets import TargetRefused, checked, target_of
from tests.factories import make_workspace
from tests.integration.webhooks.helpers import deliveries
from tests.integration.webhooks.receiver import running_receiver

INSIDE = ["http://127.0.0.1:8000/h", "http://10.1.2.3/h", "http://169.254.169.254/latest/meta-data",
          "http://[::1]:8080/h", "http://[::ffff:127.0.0.1]/h", "http://224.0.0.1/h", "http://0.0.0.0/h",
          "http://192.168.1.1/h", "http://100.64.0.1/h"]


@pytest.mark.parametrize("url", INSIDE)
async def test_inside_addresses_are_refused_when_private_targets_are_not_allowed(url):
    with pytest.raises(TargetRefused):
        await target_of(url, allow_private=False)
    assert (await target_of(url, allow_private=True)).host_header


async def test_a_name_is_checked_by_every_address_it_resolves_to():
    public, inside = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")
    assert checked([public], "example.com", False) == public
    with pytest.raises(TargetRefused):
        checked([public, inside], "rebound.example", False)


async def test_a_name_resolving_to_loopback_at_send_time_is_refused():
    target = await target_of("https://localhost:8443/h", allow_private=True)
    assert target.url.startswith("https://127.0.0.1:8443/") or target.url.startswith("https://[::1]:8443/")
    assert (target.host_header, target.server_name) == ("localhost:8443", "localhost")
    with pytest.raises(TargetRefused, match="localhost"):
        await target_of("https://localhost:8443/h", allow_private=False)


async def test_a_delivery_to_loopback_is_refused_and_nothing_is_posted_once_private_targets_are_disallowed():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        await endpoints.allow_private_targets(workspace["id"], True)
        await endpoints.create_endpoint(workspace["id"], {"url": receiver.url, "events": ["message.opened"]})
        await endpoints.allow_private_targets(workspace["id"], False)
        await webhooks.publish(workspace["id"], "message.opened", {"email": "a@example.org"})
        assert await deliver_due(get_redis()) == 1
    assert receiver.received == []
    [row] = await deliveries(workspace)
    assert row["status"] == "pending" and "127.0.0.1" in row["last_error"] and row["last_status_code"] is None


async def test_a_private_url_is_refused_when_saved_unless_allowed():
    workspace = await make_workspace()
    for url in ("http://127.0.0.1/h", "http://localhost/h", "http://[::1]/h", "http://10.0.0.5/h"):
        with pytest.raises(endpoints.EndpointFormError) as refused:
            await endpoints.create_endpoint(workspace["id"], {"url": url, "events": ["message.opened"]})
        assert "private" in refused.value.errors["url"]
    await endpoints.allow_private_targets(workspace["id"], True)
    created, _ = await endpoints.create_endpoint(workspace["id"], {"url": "http://10.0.0.5/h",
                                                                    "events": ["message.opened"]})
    assert created["url"] == "http://10.0.0.5/h"


async def test_bad_endpoint_input_names_each_field():
    workspace = await make_workspace()
    with pytest.raises(endpoints.EndpointFormError) as refused:
        await endpoints.create_endpoint(workspace["id"], {"url": "ftp://example.com", "events": []})
    assert set(refused.value.errors) == {"url", "events"}
    with pytest.raises(endpoints.EndpointFormError) as refused:
        await endpoints.create_endpoint(workspace["id"], {"url": "https://u:p@example.com/h",
                                                          "events": ["message.nope"]})
    assert set(refused.value.errors) == {"url", "events"}
    assert await endpoints.endpoints_of(workspace["id"]) == []

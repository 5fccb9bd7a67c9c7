import dns.asyncresolver

from app.db.audience import Subscriber
from app.services.mx_checks import check_list
from app.services.subscribers import add_subscriber
from tests.dns_zone import ZoneServer
from tests.factories import make_list, make_workspace, post_form, signed_in_client


def _resolver(server: ZoneServer) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    return resolver


async def test_subscribers_on_domains_without_mail_servers_become_bounced():
    zone = ZoneServer()
    zone.records[("good.example", "MX")] = ["10 mx.good.example."]
    zone.records[("plain.example", "A")] = ["192.0.2.10"]
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    for email in ("a@good.example", "b@plain.example", "c@dead.example", "d@dead.example"):
        await add_subscriber(workspace["id"], mailing_list["id"], {"email": email})
    try:
        report = await check_list(workspace["id"], mailing_list["id"], _resolver(zone))
    finally:
        zone.stop()
    assert report.domains_checked == 3 and report.dead_domains == ["dead.example"]
    assert report.subscribers_marked == 2
    statuses = {row["email"]: row["status"] for row in await Subscriber.select(Subscriber.email, Subscriber.status)}
    assert statuses == {"a@good.example": "confirmed", "b@plain.example": "confirmed",
                        "c@dead.example": "bounced", "d@dead.example": "bounced"}


async def test_mx_check_button_queues_the_background_job(client):
    from app.redis_client import get_broker_redis

    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    response = await post_form(client, f"/mailing/lists/{mailing_list['id']}/mx-check")
    assert response.status_code == 303
    assert await get_broker_redis().llen("dramatiq:default") == 1

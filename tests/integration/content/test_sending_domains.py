"""Sending domains against a real DNS server on loopback (dnspython answering from a zone in the test)."""

import pytest

from app.db.content import SendingDomain
from app.services import vault
from app.services.rendering import DkimSigner
from tests.dns_zone import ZoneServer
from tests.factories import make_workspace, post_form, signed_in_client


@pytest.fixture
def zone(monkeypatch):
    server = ZoneServer()
    monkeypatch.setenv("DNS_RESOLVER", f"127.0.0.1:{server.port}")
    yield server
    server.stop()


async def test_add_domain_generates_encrypted_dkim_key_and_records(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/delivery/domains", {"domain": "Mail.Example.com"})
    assert response.status_code == 303
    row = await SendingDomain.select().first()
    assert row["domain"] == "mail.example.com"
    assert "PRIVATE KEY" not in row["dkim_private_key"]
    assert "BEGIN RSA PRIVATE KEY" in vault.decrypt(row["dkim_private_key"])
    page = await client.get(response.headers["location"])
    assert "ignite._domainkey.mail.example.com" in page.text and "v=DMARC1" in page.text


async def test_bad_domain_is_refused_next_to_the_field(client):
    await signed_in_client(client)
    long_but_valid_labels = ".".join(["a" * 60] * 4) + ".com"
    for bad in ("https://example.com", "not a domain", "me@example.com", "localhost", long_but_valid_labels):
        response = await post_form(client, "/mailing/delivery/domains", {"domain": bad})
        assert response.status_code == 422 and 'data-testid="error-domain"' in response.text, bad
    for selector in ("-bad", "x" * 64, "sel ector"):
        response = await post_form(client, "/mailing/delivery/domains", {"domain": "ok.example", "selector": selector})
        assert response.status_code == 422 and 'data-testid="error-selector"' in response.text, selector
        assert 'value="ok.example"' in response.text
    assert await SendingDomain.count() == 0


async def test_check_dns_passes_published_records_and_fails_missing_ones(client, zone):
    await signed_in_client(client)
    added = await post_form(client, "/mailing/delivery/domains", {"domain": "news.example.com"})
    location = added.headers["location"]
    row = await SendingDomain.select().first()
    zone.records[(f"ignite._domainkey.{row['domain']}", "TXT")] = [row["dkim_public_record"]]
    zone.records[(row["domain"], "TXT")] = [f"v=spf1 include:{row['spf_include']} ~all"]
    result = await post_form(client, f"{location}/check")
    assert 'data-testid="dns-check-DKIM"' in result.text
    assert result.text.count('class="pass"') == 2 and result.text.count('class="fail"') == 2
    saved = await SendingDomain.select(SendingDomain.dns_status).output(load_json=True).first()
    assert saved["dns_status"] == {"DKIM": True, "SPF": True, "DMARC": False, "Return-Path": False}


async def test_signer_uses_the_stored_key_and_verifies(zone):
    import dkim

    from app.services.sending_domains import add_domain, signer_for

    workspace = await make_workspace()
    row = await add_domain(workspace["id"], "brand.example")
    signer = await signer_for(workspace["id"], "brand.example")
    assert isinstance(signer, DkimSigner)
    message = (b"From: a@brand.example\r\nTo: b@example.com\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
               b"Message-ID: <1@brand.example>\r\n\r\nbody\r\n")
    signed = signer.sign(message)
    record = row["dkim_public_record"].encode()
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)


async def test_domains_of_another_workspace_are_not_found(client):
    from app.services.sending_domains import add_domain

    other = await make_workspace("Other")
    foreign = await add_domain(other["id"], "other.example")
    await signed_in_client(client)
    assert (await client.get(f"/mailing/delivery/domains/{foreign['id']}")).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/domains/{foreign['id']}/check")).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/domains/{foreign['id']}/delete")).status_code == 404

"""Render and MIME-assemble a 30 KB campaign (10 merge tags, spintax, 20 links) for many subscribers.

Prints messages per second of one process on one core (CPU time, so other load
on the machine does not skew it), without and with DKIM signing:

    .venv/bin/python benchmarks/render.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.policy
import pstats
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.services.rendering import (
    CampaignContent,
    CampaignSettings,
    CompiledMessage,
    DkimSigner,
    Link,
    PatternUrls,
    generate_dkim_key,
)

TARGET_BYTES = 30 * 1024
LINKS = 20
CITIES = ("Paris", "Berlin", "Lisbon", "Austin", "Osaka", "Lagos", "Lima", "Oslo")
PARAGRAPH = (
    "Our spring collection is here, with pieces picked for long evenings and early mornings alike. "
    "Every order ships within two working days, and returns stay free for thirty days after delivery. "
)
STYLE = """
body { margin: 0; padding: 0; background-color: #f4f4f4; }
table { border-collapse: collapse; }
.wrapper { width: 100%; background-color: #f4f4f4; }
.container { width: 600px; background-color: #ffffff; }
.card td { padding: 16px 24px; font-family: Helvetica, Arial, sans-serif; font-size: 15px; color: #333333; }
.card h2 { margin: 0 0 8px 0; font-size: 20px; color: #111111; }
.button { background-color: #e4572e; color: #ffffff; padding: 10px 18px; text-decoration: none; }
.footer td { font-size: 12px; color: #777777; padding: 24px; }
@media (max-width: 620px) { .container { width: 100% !important; } .card td { padding: 12px !important; } }
"""


class BenchRewriter:
    """Stands in for click tracking so the per-link rewriting cost is part of the figure."""

    def rewrite(self, url: str, link: Link, delivery_id: str) -> str:
        return f"https://t.example.com/c/{delivery_id}.{link.index}"


class BenchPixel:
    def url(self, delivery_id: str) -> str:
        return f"https://t.example.com/o/{delivery_id}.gif"


def card(number: int) -> str:
    greeting = "{Hi|Hello|Hey} {{ first_name | default(\"there\") }}, a" if number == 0 else "A"
    offer = "{this week|{today|right now} only}" if number % 5 == 1 else "this season"
    return f"""
<table class="card" role="presentation" width="100%"><tr><td>
<h2>{greeting} pick {number + 1}{" for {{ subscriber.fields.city }}" if number == 0 else ""}</h2>
<p>{PARAGRAPH * 3}</p>
<p>Available {offer}.
<a class="button" href="https://shop.example.com/p/{number}?ref=mail">See pick {number + 1}</a></p>
</td></tr></table>"""


def build_template() -> str:
    footer = """
<table class="footer" role="presentation" width="100%"><tr><td>
<p>Sent to {{ email }} because you joined on {{ subscriber.created_at | date("%d %B %Y") }}
as a {{ subscriber.fields.plan | default("free") }} member of {{ company | default("our club") }}.</p>
<p>{{ physical_address }}</p>
<p><a href="{{ web_version_url }}">View in browser</a> - <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</td></tr></table>"""
    cards = [card(number) for number in range(LINKS)]
    body = "".join(cards)
    filler = 0
    while len(body.encode()) + len(footer) + len(STYLE) < TARGET_BYTES:
        body += f"<p class=\"filler\">{PARAGRAPH}</p>"
        filler += 1
    return f"""<!DOCTYPE html><html><head><title>Spring picks</title><style>{STYLE}</style></head>
<body><table class="wrapper" role="presentation"><tr><td align="center">
<table class="container" role="presentation"><tr><td>
<p>{{{{ last_name | default("") }}}}</p>{body}{footer}
</td></tr></table></td></tr></table></body></html>"""


def subscribers(count: int) -> list[dict[str, Any]]:
    start = datetime(2023, 1, 1)
    return [
        {
            "id": number,
            "email": f"user{number}@example.org",
            "first_name": f"Name{number}" if number % 7 else "",
            "last_name": f"Surname{number}",
            "created_at": start + timedelta(hours=number),
            "fields": {"city": CITIES[number % len(CITIES)], "plan": "gold" if number % 3 else None},
        }
        for number in range(count)
    ]


def settings(dkim: DkimSigner | None = None) -> CampaignSettings:
    return CampaignSettings(
        from_email="news@mail.example.com",
        from_name="Example Shop",
        urls=PatternUrls(
            unsubscribe="https://t.example.com/u/{delivery_id}",
            mailto="mailto:unsubscribe+{delivery_id}@bounce.example.com",
            web_version="https://t.example.com/v/{delivery_id}",
        ),
        physical_address="1 Market Street, Springfield",
        feedback_id="42:7:campaign:ignite",
        custom_headers={"X-Campaign-ID": "42"},
        utm={"utm_source": "ignite", "utm_medium": "email", "utm_campaign": "spring"},
        link_rewriter=BenchRewriter(),
        open_pixel=BenchPixel(),
        dkim=dkim,
    )


def messages_per_second(compiled: CompiledMessage, people: list[dict[str, Any]]) -> float:
    render: Callable[[dict[str, Any], int], bytes] = compiled.render
    started = time.process_time()
    for person in people:
        render(person, person["id"] + 1_000_000)
    return len(people) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 messages, 300 signed")
    parser.add_argument("--profile", action="store_true", help="print the hottest functions")
    options = parser.parse_args()
    count, signed = (5_000, 300) if options.quick else (100_000, 2_000)

    content = CampaignContent(
        campaign_id=42, subject="{Hi|Hello} {{ first_name | default(\"friend\") }}, spring picks", html=build_template()
    )
    compiled = CompiledMessage(content, settings())
    people = subscribers(count)
    sample = email.message_from_bytes(compiled.render(people[0], 1), policy=email.policy.default)
    if sample.get_content_type() != "multipart/alternative" or len(compiled.links) != LINKS + 2:
        raise SystemExit("the benchmark template did not compile as expected")

    if options.profile:
        profiler = cProfile.Profile()
        profiler.runcall(messages_per_second, compiled, people[: min(count, 20_000)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    rate = messages_per_second(compiled, people)

    key = generate_dkim_key()
    signer = DkimSigner(domain="mail.example.com", selector="ignite", private_key_pem=key.private_key_pem)
    signed_rate = messages_per_second(CompiledMessage(content, settings(signer)), people[:signed])

    print(f"render_msgs_per_s_per_core: {rate:.0f} msgs/s")
    print(f"render_dkim_msgs_per_s: {signed_rate:.0f} msgs/s")


if __name__ == "__main__":
    main()

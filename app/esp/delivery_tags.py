"""The delivery a campaign message is for, sent along as provider metadata so webhook events name it.

SES, SparkPost and Mailgun send from return paths of their own, so a bounce never reaches our VERP
address; each lets the sender attach values that come back in its events (SES message tags, SparkPost
metadata, Mailgun `v:` variables). Campaign messages carry Ignite's Message-ID `<delivery id@domain>`
(rendering/mime.message_id), so the id is read back from it; other mail (tests, account mail) has none.
"""

from __future__ import annotations

import re

from app.esp.base import OutgoingMessage

# The name of the value in every provider's metadata; SES tag names allow letters, digits, '_' and '-'.
DELIVERY_TAG = "ignite_delivery"
_OUR_MESSAGE_ID = re.compile(r"<?\s*(\d{1,18})@[^>\s]+?\s*>?")


def delivery_id_in(message_id: str) -> int | None:
    """The delivery id in one of Ignite's Message-IDs, or None for anyone else's."""
    found = _OUR_MESSAGE_ID.fullmatch(message_id.strip())
    return int(found.group(1)) if found else None


def delivery_tags(message: OutgoingMessage) -> dict[str, str]:
    """The metadata naming the message's delivery: empty for a message that is not a delivery's."""
    delivery_id = delivery_id_in(message.message_id)
    return {} if delivery_id is None else {DELIVERY_TAG: str(delivery_id)}

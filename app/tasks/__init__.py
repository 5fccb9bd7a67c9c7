"""Dramatiq actors. `dramatiq app.tasks` imports this package, which imports every actor module.

Actor modules declare their actors on `app.tasks.broker.broker` explicitly, so
import order never binds an actor to Dramatiq's default broker.
"""

from app.heap import freeze_startup_objects
from app.tasks import (
    audience,
    automations,
    bounces,
    everflow,
    imports,
    intake,
    intelligence,
    mailboxes,
    sending,
    system,
    tracking,
    transactional,
    webhooks,
)
from app.tasks.broker import broker

freeze_startup_objects()

__all__ = ["audience", "automations", "bounces", "broker", "everflow", "imports", "intake", "intelligence",
           "mailboxes", "sending", "system", "tracking", "transactional", "webhooks"]

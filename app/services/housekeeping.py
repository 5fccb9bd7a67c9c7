"""Periodic clean-up of data that has outlived its use."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from app.db.accounts import Invite, PasswordReset
from app.services import audit, imports
from app.services.accounts import now
from app.services.bounces import rates

# Keep spent tokens a while so a late click still explains itself as "expired or used".
GRACE = timedelta(days=7)
# An upload nobody mapped in a day was abandoned (a wrong file, a closed tab); its file waits for no one.
UNSTARTED_IMPORT_TTL = timedelta(days=1)
# Rates look back a week, a campaign's over its send: bounce and complaint counters older than this are unread.
FEEDBACK_COUNTS_KEPT = timedelta(days=90)


async def purge_expired_tokens() -> int:
    cutoff = now() - GRACE
    resets = await PasswordReset.delete().where(PasswordReset.expires_at < cutoff).returning(PasswordReset.id)
    invites = await Invite.delete().where(Invite.expires_at < cutoff, Invite.accepted_at.is_null()).returning(
        Invite.id
    )
    return len(resets) + len(invites)


async def discard_abandoned_imports(redis: Redis) -> int:
    """Discard imports left waiting for their mapping for a day, with their files; each workspace's activity
    feed says so."""
    discarded = await imports.discard_unstarted(now() - UNSTARTED_IMPORT_TTL)
    for row in discarded:
        await audit.record(redis, row["workspace_id"], audit.SYSTEM, "import.discarded", "import", row["id"],
                           {"file": row["filename"], "reason": "not mapped within a day"})
    return len(discarded)


async def forget_old_feedback_counts() -> int:
    return await rates.forget_counts_before(now() - FEEDBACK_COUNTS_KEPT)

"""Periodic clean-up of data that has outlived its use."""

from __future__ import annotations

from datetime import timedelta

from app.db.accounts import Invite, PasswordReset
from app.services.accounts import now

# Keep spent tokens a while so a late click still explains itself as "expired or used".
GRACE = timedelta(days=7)


async def purge_expired_tokens() -> int:
    cutoff = now() - GRACE
    resets = await PasswordReset.delete().where(PasswordReset.expires_at < cutoff).returning(PasswordReset.id)
    invites = await Invite.delete().where(Invite.expires_at < cutoff, Invite.accepted_at.is_null()).returning(
        Invite.id
    )
    return len(resets) + len(invites)

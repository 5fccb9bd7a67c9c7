"""Password reset by emailed, expiring, single-use token."""

from __future__ import annotations

from datetime import timedelta

from app.db.accounts import Membership, PasswordReset, User
from app.services.accounts import AccountError, last_workspace_id, now, user_by_email
from app.services.passwords import hash_password, password_problem
from app.services.system_mail import send_system_message
from app.services.tokens import new_token, token_hash


async def start_password_reset(email: str, base_url: str, ttl_seconds: int) -> str | None:
    """Email a reset link if the address belongs to an active user; returns the token (for tests).

    The caller answers the same way whether or not the user exists.
    """
    user = await user_by_email(email)
    if user is None or not user["is_active"]:
        return None
    workspace_id = await last_workspace_id(user["id"])
    if workspace_id is None:
        membership = await Membership.select(Membership.workspace_id).where(Membership.user_id == user["id"]).first()
        if membership is None:
            return None
        workspace_id = membership["workspace_id"]
    token = new_token()
    await PasswordReset.insert(
        PasswordReset(
            user_id=user["id"],
            token_hash=token_hash(token),
            expires_at=now() + timedelta(seconds=ttl_seconds),
            created_at=now(),
        )
    )
    link = f"{base_url}/password/reset/{token}"
    minutes = ttl_seconds // 60
    await send_system_message(
        workspace_id,
        user["email"],
        "Reset your Ignite password",
        f"Someone asked to reset the password of your Ignite account.\n\nChoose a new one here "
        f"(the link works once, for {minutes} minutes):\n{link}\n\nIf it was not you, ignore this email.",
        f"<p>Someone asked to reset the password of your Ignite account.</p>"
        f'<p><a href="{link}">Choose a new password</a> (the link works once, for {minutes} minutes).</p>'
        f"<p>If it was not you, ignore this email.</p>",
    )
    return token


async def usable_reset(token: str) -> dict | None:
    row = await PasswordReset.select().where(PasswordReset.token_hash == token_hash(token)).first()
    if row is None or row["used_at"] is not None or row["expires_at"] <= now():
        return None
    return row


async def complete_password_reset(token: str, password: str) -> int:
    """Set the new password and spend the token; returns the user id."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field="password")
    async with PasswordReset._meta.db.transaction():
        # Spend the token first, conditionally, so two concurrent submissions cannot both succeed.
        spent = await PasswordReset.update({PasswordReset.used_at: now()}).where(
            PasswordReset.token_hash == token_hash(token),
            PasswordReset.used_at.is_null(),
            PasswordReset.expires_at > now(),
        ).returning(PasswordReset.user_id)
        if not spent:
            raise AccountError("This reset link has expired or was already used. Ask for a new one.")
        user_id = spent[0]["user_id"]
        await User.update({User.password_hash: hash_password(password)}).where(User.id == user_id)
        await PasswordReset.update({PasswordReset.used_at: now()}).where(
            PasswordReset.user_id == user_id, PasswordReset.used_at.is_null()
        )
    return user_id

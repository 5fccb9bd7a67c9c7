"""Changing a password: by an emailed, expiring, single-use reset link, or while signed in.

Either way every other session of the account ends and the account's address is told.
"""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from app.db.accounts import Membership, PasswordReset, User
from app.logs import get_logger
from app.services.accounts import AccountError, last_workspace_id, now, user_by_email
from app.services.lockout import sign_out_everywhere
from app.services.passwords import hash_password, password_matches, password_problem
from app.services.system_mail import rendered_mail, send_account_mail
from app.services.tokens import new_token, token_hash

log = get_logger("ignite.accounts")


async def mail_workspace_id(user_id: int) -> int | None:
    """The workspace an account's mail is filed under in the development inbox: the last one used."""
    workspace_id = await last_workspace_id(user_id)
    if workspace_id is not None:
        return workspace_id
    membership = await Membership.select(Membership.workspace_id).where(Membership.user_id == user_id).first()
    return membership["workspace_id"] if membership else None


async def start_password_reset(email: str, base_url: str, ttl_seconds: int) -> str | None:
    """Email a reset link if the address belongs to an active user; returns the token (for tests).

    The caller answers the same way whether or not the user exists, and whether or not the mail went out.
    """
    user = await user_by_email(email)
    workspace_id = await mail_workspace_id(user["id"]) if user and user["is_active"] else None
    if user is None or workspace_id is None:
        return None
    token = new_token()
    rows = await PasswordReset.insert(
        PasswordReset(user_id=user["id"], token_hash=token_hash(token),
                      expires_at=now() + timedelta(seconds=ttl_seconds), created_at=now())
    ).returning(PasswordReset.id)
    mail = rendered_mail("password_reset", "Reset your Ignite password",
                         link=f"{base_url}/password/reset/{token}", minutes=ttl_seconds // 60)
    try:
        await send_account_mail(workspace_id, user["email"], mail)
    except AccountError as exc:
        log.error("password_reset_not_sent", reason=str(exc))
        await PasswordReset.delete().where(PasswordReset.id == rows[0]["id"])
        return None
    return token


async def usable_reset(token: str) -> dict | None:
    row = await PasswordReset.select().where(PasswordReset.token_hash == token_hash(token)).first()
    if row is None or row["used_at"] is not None or row["expires_at"] <= now():
        return None
    return row


def _new_password_problems(password: str, confirm: str) -> dict[str, str]:
    problems = {}
    if problem := password_problem(password):
        problems["password"] = problem
    if password != confirm:
        problems["confirm"] = "The two passwords differ."
    return problems


async def complete_password_reset(redis: Redis, token: str, password: str, confirm: str, base_url: str,
                                  at: float) -> int:
    """Set the new password, spend the token and end every session of the account; returns the user id."""
    if problems := _new_password_problems(password, confirm):
        raise AccountError(problems)
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
    await sign_out_everywhere(redis, user_id, at)
    await _tell_of_change(user_id, "with a reset link", base_url)
    return user_id


async def change_password(redis: Redis, user_id: int, current: str, password: str, confirm: str, base_url: str,
                          at: float) -> None:
    """Replace a signed-in user's password; sessions started before `at` end (the caller renews its own)."""
    user = await User.select(User.password_hash).where(User.id == user_id).first()
    problems = _new_password_problems(password, confirm)
    if user is None or not password_matches(user["password_hash"], current):
        problems["current_password"] = "This is not your current password."
    if problems:
        raise AccountError(problems)
    await User.update({User.password_hash: hash_password(password)}).where(User.id == user_id)
    await sign_out_everywhere(redis, user_id, at)
    await _tell_of_change(user_id, "while signed in", base_url)


async def _tell_of_change(user_id: int, how: str, base_url: str) -> None:
    """A sign-in notice to the account's address; the change stands even if the notice cannot go out."""
    user = await User.select(User.email).where(User.id == user_id).first()
    workspace_id = await mail_workspace_id(user_id)
    if user is None or workspace_id is None:
        return
    mail = rendered_mail("password_changed", "Your Ignite password was changed", email=user["email"], how=how,
                         forgot_link=f"{base_url}/password/forgot")
    try:
        await send_account_mail(workspace_id, user["email"], mail)
    except AccountError as exc:
        log.error("password_notice_not_sent", reason=str(exc))

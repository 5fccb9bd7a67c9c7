"""The people of a workspace: members, their roles, and invitations to join."""

from __future__ import annotations

from datetime import timedelta

from app.db.accounts import Invite, Membership, User, Workspace
from app.services.accounts import (
    ROLES,
    AccountError,
    add_member,
    create_user,
    normalized_email,
    now,
    user_by_email,
)
from app.services.passwords import password_matches
from app.services.system_mail import rendered_mail, send_account_mail
from app.services.tenancy import owned_by
from app.services.tokens import new_token, token_hash


async def members(workspace_id: int) -> list[dict]:
    return await Membership.select(
        Membership.user_id, Membership.role, Membership.created_at,
        Membership.user_id.email.as_alias("email"), Membership.user_id.name.as_alias("name"),
    ).where(owned_by(Membership, workspace_id)).order_by(Membership.created_at)


async def pending_invites(workspace_id: int) -> list[dict]:
    return await Invite.select(Invite.id, Invite.email, Invite.role, Invite.expires_at, Invite.created_at).where(
        owned_by(Invite, workspace_id), Invite.accepted_at.is_null(), Invite.expires_at > now()
    ).order_by(Invite.created_at, ascending=False)


async def member_role(workspace_id: int, user_id: int) -> str | None:
    row = await Membership.select(Membership.role).where(
        owned_by(Membership, workspace_id), Membership.user_id == user_id
    ).first()
    return row["role"] if row else None


async def _owner_count(workspace_id: int) -> int:
    return await Membership.count().where(owned_by(Membership, workspace_id), Membership.role == "owner")


def _owner_rule(by_role: str, *roles: str | None) -> None:
    """Only an owner grants, takes away or removes the owner role."""
    if "owner" in roles and by_role != "owner":
        raise AccountError("Only an owner can grant, take away or remove the owner role.", field="role")


async def change_role(workspace_id: int, user_id: int, role: str, by_role: str) -> dict:
    """Give a member another role, as someone with `by_role`; returns the membership as it was."""
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.", field="role")
    member = await Membership.select().where(owned_by(Membership, workspace_id), Membership.user_id == user_id).first()
    if member is None:
        raise LookupError("member")
    _owner_rule(by_role, role, member["role"])
    if member["role"] == "owner" and role != "owner" and await _owner_count(workspace_id) <= 1:
        raise AccountError("A workspace needs at least one owner.", field="role")
    await Membership.update({Membership.role: role}).where(Membership.id == member["id"])
    return member


async def remove_member(workspace_id: int, user_id: int, by_role: str) -> None:
    member = await Membership.select().where(owned_by(Membership, workspace_id), Membership.user_id == user_id).first()
    if member is None:
        raise LookupError("member")
    _owner_rule(by_role, member["role"])
    if member["role"] == "owner" and await _owner_count(workspace_id) <= 1:
        raise AccountError("A workspace needs at least one owner.")
    await Membership.delete().where(Membership.id == member["id"])


async def invite(
    workspace_id: int, email: str, role: str, invited_by: int, base_url: str, ttl_seconds: int,
    by_role: str = "owner",
) -> tuple[dict, str]:
    """Create an invitation and email its link through the platform sender; returns the invite row and token.

    Call it inside a transaction: when the mail cannot go out, AccountError says why and nothing is kept.
    """
    email = normalized_email(email)
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.", field="role")
    _owner_rule(by_role, role)
    already = await Membership.exists().where(
        owned_by(Membership, workspace_id), Membership.user_id.email == email
    )
    if already:
        raise AccountError("This person is already a member of the workspace.", field="email")
    token = new_token()
    rows = await Invite.insert(
        Invite(
            workspace_id=workspace_id, email=email, role=role, token_hash=token_hash(token),
            invited_by=invited_by, expires_at=now() + timedelta(seconds=ttl_seconds), created_at=now(),
        )
    ).returning(*Invite.all_columns())
    workspace = await Workspace.select(Workspace.name).where(Workspace.id == workspace_id).first()
    mail = rendered_mail("invitation", f"You are invited to {workspace['name']} on Ignite",
                         workspace_name=workspace["name"], role=role, link=f"{base_url}/invite/{token}",
                         days=max(1, ttl_seconds // 86400))
    await send_account_mail(workspace_id, email, mail)
    return rows[0], token


async def revoke_invite(workspace_id: int, invite_id: int) -> dict:
    rows = await Invite.delete().where(
        owned_by(Invite, workspace_id), Invite.id == invite_id, Invite.accepted_at.is_null()
    ).returning(Invite.id, Invite.email)
    if not rows:
        raise LookupError("invite")
    return rows[0]


async def open_invite(token: str) -> dict | None:
    """The invitation behind a link if it can still be accepted, with its workspace's name."""
    row = await Invite.select(*Invite.all_columns(), Invite.workspace_id.name.as_alias("workspace_name")).where(
        Invite.token_hash == token_hash(token), Invite.accepted_at.is_null(), Invite.expires_at > now()
    ).first()
    return row


async def accept_invite(token: str, name: str, password: str) -> dict:
    """Join the workspace: a new user sets a password, an existing one proves theirs. Returns the user."""
    invitation = await open_invite(token)
    if invitation is None:
        raise AccountError("This invitation has expired, was revoked, or was already used.")
    async with Invite._meta.db.transaction():
        user = await user_by_email(invitation["email"])
        if user is None:
            user = await create_user(invitation["email"], password, name)
        elif not password_matches(user["password_hash"], password):
            raise AccountError("You already have an account: enter its password to accept.", field="password")
        claimed = await Invite.update({Invite.accepted_at: now()}).where(
            Invite.id == invitation["id"], Invite.accepted_at.is_null()
        ).returning(Invite.id)
        if not claimed:
            raise AccountError("This invitation was already used.")
        await add_member(invitation["workspace_id"], user["id"], invitation["role"])
        await User.update({User.last_workspace_id: invitation["workspace_id"]}).where(User.id == user["id"])
    return {**user, "workspace_id": invitation["workspace_id"], "role": invitation["role"]}

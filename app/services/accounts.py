"""Workspaces, users, roles and memberships: who may sign in and what they may do where."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from app.db.accounts import Membership, User, Workspace
from app.services.forms import FormError
from app.services.passwords import DUMMY_HASH, hash_password, password_matches, password_problem

ROLES = ("owner", "admin", "marketer", "analyst")
ROLE_RANK = {"analyst": 0, "marketer": 1, "admin": 2, "owner": 3}
PORTALS = ("mailing", "analytics")


class AccountError(FormError):
    """A request about accounts that cannot be honoured; `field` names the form field at fault."""


@dataclass(frozen=True)
class WorkspaceChoice:
    id: int
    name: str
    role: str
    sending_stopped: bool = False


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as seen inside one workspace."""

    user_id: int
    email: str
    name: str
    last_portal: str
    workspace_id: int
    workspace_name: str
    role: str
    workspaces: tuple[WorkspaceChoice, ...]
    # The workspace's kill switch is on: every page of the Mailing portal says so, not only Campaigns.
    sending_stopped: bool = False

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[minimum]


def now() -> datetime:
    return datetime.now(UTC)


def normalized_email(address: str) -> str:
    """The address in canonical form (domain lower-cased), or AccountError."""
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(str(exc), field="email") from exc
    return result.normalized.lower()


def slug_for(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "workspace"


async def create_workspace(name: str, timezone: str = "UTC") -> dict:
    name = name.strip()
    if not name:
        raise AccountError("Give the workspace a name.", field="name")
    base = slug_for(name)
    taken = {row["slug"] for row in await Workspace.select(Workspace.slug).where(Workspace.slug.like(f"{base}%"))}
    slug = base
    counter = 2
    while slug in taken:
        slug = f"{base}-{counter}"
        counter += 1
    rows = await Workspace.insert(Workspace(name=name, slug=slug, timezone=timezone, created_at=now())).returning(
        *Workspace.all_columns()
    )
    return rows[0]


async def create_user(email: str, password: str, name: str = "") -> dict:
    email = normalized_email(email)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field="password")
    if await User.exists().where(User.email == email):
        raise AccountError("A user with this email already exists.", field="email")
    rows = await User.insert(
        User(email=email, name=name.strip(), password_hash=hash_password(password), created_at=now())
    ).returning(*User.all_columns())
    return rows[0]


async def add_member(workspace_id: int, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.", field="role")
    existing = await Membership.select(Membership.id).where(
        Membership.workspace_id == workspace_id, Membership.user_id == user_id
    ).first()
    if existing:
        await Membership.update({Membership.role: role}).where(Membership.id == existing["id"])
    else:
        await Membership.insert(
            Membership(workspace_id=workspace_id, user_id=user_id, role=role, created_at=now())
        )


async def user_by_email(email: str) -> dict | None:
    try:
        email = normalized_email(email)
    except AccountError:
        return None
    return await User.select().where(User.email == email).first()


async def authenticate(email: str, password: str) -> dict | None:
    """The active user with these credentials, or None; costs one hash either way."""
    user = await user_by_email(email)
    if user is None or not user["is_active"]:
        password_matches(DUMMY_HASH, password)
        return None
    if not password_matches(user["password_hash"], password):
        return None
    await User.update({User.last_login_at: now()}).where(User.id == user["id"])
    return user


async def set_password(user_id: int, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field="password")
    await User.update({User.password_hash: hash_password(password)}).where(User.id == user_id)


async def workspace_choices(user_id: int) -> tuple[WorkspaceChoice, ...]:
    rows = await Membership.select(
        Membership.workspace_id.id.as_alias("id"), Membership.workspace_id.name.as_alias("name"), Membership.role,
        Membership.workspace_id.sending_stopped_at.as_alias("stopped_at"),
    ).where(Membership.user_id == user_id).order_by(Membership.workspace_id.name)
    return tuple(WorkspaceChoice(id=row["id"], name=row["name"], role=row["role"],
                                 sending_stopped=row["stopped_at"] is not None) for row in rows)


async def viewer_for(user_id: int, workspace_id: int | None) -> Viewer | None:
    """The user inside the chosen workspace, falling back to their first; None if they have none."""
    user = await User.select(User.id, User.email, User.name, User.is_active, User.last_portal).where(
        User.id == user_id
    ).first()
    if user is None or not user["is_active"]:
        return None
    choices = await workspace_choices(user_id)
    if not choices:
        return None
    current = next((choice for choice in choices if choice.id == workspace_id), choices[0])
    return Viewer(
        user_id=user["id"],
        email=user["email"],
        name=user["name"],
        last_portal=user["last_portal"],
        workspace_id=current.id,
        workspace_name=current.name,
        role=current.role,
        workspaces=choices,
        sending_stopped=current.sending_stopped,
    )


async def remember_portal(user_id: int, portal: str) -> None:
    if portal in PORTALS:
        await User.update({User.last_portal: portal}).where(User.id == user_id)


async def remember_workspace(user_id: int, workspace_id: int) -> None:
    await User.update({User.last_workspace_id: workspace_id}).where(User.id == user_id)


async def last_workspace_id(user_id: int) -> int | None:
    row = await User.select(User.last_workspace_id).where(User.id == user_id).first()
    return row["last_workspace_id"] if row else None

"""Workspaces, users, memberships and the one-time tokens that belong to them."""

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class Workspace(Table, tablename="workspaces"):
    name = Varchar(length=120)
    slug = Varchar(length=80, unique=True)
    timezone = Varchar(length=64, default="UTC")
    created_at = Timestamptz()
    sending_stopped_at = Timestamptz(null=True, default=None)
    sending_stopped_reason = Text(default="")
    sending_stopped_by = Integer(null=True, default=None)


class User(Table, tablename="users"):
    email = Varchar(length=320, unique=True)
    name = Varchar(length=120, default="")
    password_hash = Text()
    is_active = Boolean(default=True)
    last_portal = Varchar(length=16, default="")
    last_workspace_id = ForeignKey(references=Workspace, null=True)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)


class Membership(Table, tablename="memberships"):
    workspace_id = ForeignKey(references=Workspace)
    user_id = ForeignKey(references=User)
    role = Varchar(length=16)
    created_at = Timestamptz()


class PasswordReset(Table, tablename="password_resets"):
    user_id = ForeignKey(references=User)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Invite(Table, tablename="invites"):
    workspace_id = ForeignKey(references=Workspace)
    email = Varchar(length=320)
    role = Varchar(length=16)
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(references=User)
    expires_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()

"""API keys: a hash of each key, its scopes, expiry, allowed addresses and last use."""

from piccolo.columns import Array, Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import User, Workspace


class ApiKey(Table, tablename="api_keys"):
    id = Serial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    prefix = Varchar(length=24)
    secret_hash = Varchar(length=64, unique=True)
    previous_hash = Varchar(length=64, null=True, default=None)
    previous_valid_until = Timestamptz(null=True, default=None)
    sandbox = Boolean(default=False)
    scopes = Array(base_column=Varchar(length=32))
    allowed_ips = Array(base_column=Varchar(length=64), default=list)
    rate_limit = Integer(default=6000)
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=User, null=True, default=None)
    created_at = Timestamptz()
    rotated_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    last_used_ip = Varchar(length=64, default="")

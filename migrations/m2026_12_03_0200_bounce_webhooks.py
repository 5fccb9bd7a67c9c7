"""Provider webhooks for bounces and complaints, and finding a delivery by its provider's message id.

- `deliveries_provider_message_idx`: SES, SparkPost and Mailgun events name the message by the id the
  provider gave it when it was sent (stored in `provider_message_id`); without the index each event would
  read every delivery of the workspace. Partial: SMTP sends without a queue id store ''.
- `bounce_webhook_keys`: per server, the key a provider signs its webhook posts with (Mailgun's webhook
  signing key), encrypted with the vault. SparkPost's credentials and the URL tokens are derived from
  SECRET_KEY and need no row.
"""

from app.db.migrating import sql_migration

ID = "2026-12-03T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bounce webhooks"

SQL = """
CREATE INDEX deliveries_provider_message_idx ON deliveries (workspace_id, provider_message_id)
    WHERE provider_message_id <> '';

CREATE TABLE bounce_webhook_keys (
    server_id integer PRIMARY KEY REFERENCES delivery_servers(id) ON DELETE CASCADE,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    signing_key text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)

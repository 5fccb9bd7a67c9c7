"""Bounce reports as they arrived, the outcomes read from them, and each workspace's own rules.

- `bounce_reports`: one row per report received from a mailbox, the inbound MX or a provider webhook,
  stored before anything is read from it so that a crash costs a delay, never a report. `(source,
  source_ref)` is unique (a mailbox message's uid, an SNS MessageId, a provider event id): a report
  fetched or posted twice is stored once. `workspace_id` is NULL until the report names its delivery
  (a mailbox shared by workspaces, the MX). `raw` is capped in size; `raw_size` is the size received.
  `processed_at` is set in the transaction that acts on the report, so a report is acted on once; the
  partial index lets the sweep find the ones a lost task left behind.
- `bounces`: one row per outcome (a report names one recipient or several), with the delivery,
  campaign, subscriber, server and domain group it was matched to, what the classifier decided and
  which rule fired, and what was done about it. `(report_id, position)` is unique: an outcome is stored
  once. Synchronous SMTP answers have no report and are stored once per delivery. The indexes serve
  the bounce log's filters, each with keyset pagination on `id`, and the count of a recipient's recent
  soft bounces.
- `bounce_rules`: a workspace's ordered rules, tried before the built-in ones.
"""

from app.db.migrating import sql_migration

ID = "2026-12-03T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bounce log"

SQL = """
CREATE TABLE bounce_reports (
    id bigserial PRIMARY KEY,
    workspace_id integer REFERENCES workspaces(id) ON DELETE CASCADE,
    source varchar(16) NOT NULL
        CHECK (source IN ('imap', 'pop3', 'mx', 'ses', 'sparkpost', 'mailgun', 'smtp')),
    source_ref varchar(255) NOT NULL,
    format varchar(16) NOT NULL DEFAULT 'email',
    raw bytea NOT NULL DEFAULT '',
    raw_size integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts smallint NOT NULL DEFAULT 0,
    error text NOT NULL DEFAULT '',
    UNIQUE (source, source_ref)
);
CREATE INDEX bounce_reports_unprocessed_idx ON bounce_reports (id) WHERE processed_at IS NULL;
CREATE INDEX bounce_reports_workspace_idx ON bounce_reports (workspace_id, id DESC);

CREATE TABLE bounces (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    report_id bigint REFERENCES bounce_reports(id) ON DELETE CASCADE,
    position smallint NOT NULL DEFAULT 0,
    delivery_id bigint,
    campaign_id integer REFERENCES campaigns(id) ON DELETE SET NULL,
    subscriber_id bigint,
    server_id integer,
    domain_group varchar(64) NOT NULL DEFAULT '',
    email varchar(320) NOT NULL DEFAULT '',
    category varchar(16) NOT NULL
        CHECK (category IN ('hard', 'soft', 'block', 'complaint', 'autoreply', 'delivered', 'unknown')),
    status varchar(16) NOT NULL DEFAULT '',
    reply_code varchar(8) NOT NULL DEFAULT '',
    diagnostic text NOT NULL DEFAULT '',
    remote_mta varchar(255) NOT NULL DEFAULT '',
    rule varchar(128) NOT NULL DEFAULT '',
    feedback_type varchar(32) NOT NULL DEFAULT '',
    action_taken varchar(32) NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (report_id, position)
);
CREATE INDEX bounces_log_idx ON bounces (workspace_id, id DESC);
CREATE INDEX bounces_category_idx ON bounces (workspace_id, category, id DESC);
CREATE INDEX bounces_server_idx ON bounces (workspace_id, server_id, id DESC);
CREATE INDEX bounces_campaign_idx ON bounces (workspace_id, campaign_id, id DESC);
CREATE INDEX bounces_rule_idx ON bounces (workspace_id, rule, id DESC);
-- The email search (a prefix) and a recipient's soft bounces within the settings' days.
CREATE INDEX bounces_email_idx ON bounces (workspace_id, email varchar_pattern_ops, id DESC);
CREATE INDEX bounces_delivery_idx ON bounces (delivery_id) WHERE delivery_id IS NOT NULL;
-- A synchronous answer of the send path has no report: one per delivery.
CREATE UNIQUE INDEX bounces_answer_idx ON bounces (delivery_id) WHERE report_id IS NULL;

CREATE TABLE bounce_rules (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    position integer NOT NULL,
    name varchar(80) NOT NULL,
    pattern text NOT NULL,
    category varchar(16) NOT NULL
        CHECK (category IN ('hard', 'soft', 'block', 'complaint', 'autoreply', 'delivered', 'unknown')),
    status varchar(16) NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX bounce_rules_position_idx ON bounce_rules (workspace_id, position);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)

"""One stored content for every message that carries the same one.

Each accepted message used to copy its content into a row of its own: a template message wrote the template's
whole HTML (20 KB in the benchmark) for every recipient, which made the API's single-message accept mostly a
matter of writing and compressing that HTML. A content now carries a fingerprint of everything it holds (the
template it came from, subject, preheader, HTML, text, sender, reply-to, headers), unique per workspace, and a
message whose content is already stored points at that row. A content is never changed once stored, and
every reader reads it by id, so sharing it changes nothing they see. Contents with attachments keep a row of
their own (their attachments hang off it): their fingerprint stays NULL, which the unique index lets repeat.
Rows stored before this migration keep no fingerprint and are simply not shared.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "shared transactional contents"

SQL = """
ALTER TABLE transactional_contents ADD COLUMN fingerprint bytea;
CREATE UNIQUE INDEX transactional_contents_fingerprint_idx ON transactional_contents (workspace_id, fingerprint);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)

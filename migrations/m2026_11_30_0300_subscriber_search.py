"""Subscriber search: any part of an address or a name (trigrams), custom field values whatever their case."""

from app.db.migrating import sql_migration

ID = "2026-11-30T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "subscriber search"

SQL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Text as the search box compares it: lower case, accents dropped ("Zoë" and "ZOE" are "zoe").
-- IMMUTABLE so that indexes can hold it: the dictionary and every function are named with their schema,
-- as PostgreSQL evaluates index expressions with only pg_catalog on the search_path during maintenance.
-- PL/pgSQL because an SQL function calling the STABLE unaccent() is not inlined and costs ~4x per row.
CREATE FUNCTION search_fold(value text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, value) COLLATE "pg_c_utf8");
END $$;

-- What a free-text search looks in: the address and the conventional name fields, one per line
-- (no typed search holds a line break, so no match spans two of them).
CREATE FUNCTION subscriber_search_text(email text, fields jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT public.search_fold(concat_ws(E'\\n', email, fields ->> 'first_name', fields ->> 'last_name',
                                         fields ->> 'name'))
$$;

-- A LIKE pattern matching `term` anywhere, folded the same way. Wildcards are escaped after folding,
-- because folding turns the fullwidth percent sign and low line (U+FF05, U+FF3F) into "%" and "_".
CREATE FUNCTION subscriber_search_pattern(term text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '%' || replace(replace(replace(public.search_fold(term), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
$$;

-- Custom field values in lower case, for "city=paris" whatever the case typed or stored. Lower-casing the
-- JSON text keeps it valid JSON (no character lower-cases to a quote or a backslash); accents are kept,
-- as folding them on every import row doubled this index's cost.
CREATE FUNCTION subscriber_folded_fields(fields jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(fields::text COLLATE "pg_c_utf8")::jsonb
$$;

-- Stored, not only indexed: every trigram match is rechecked row by row, and a substring's trigrams can
-- match far more rows than the substring does; reading the folded text is ~15x cheaper than folding it again.
ALTER TABLE subscribers ADD COLUMN search_text text GENERATED ALWAYS AS (subscriber_search_text(email, fields)) STORED;
CREATE INDEX subscribers_search_idx ON subscribers USING gin (search_text gin_trgm_ops);
-- Indexed only: a field's value hashes to few false matches, so rechecks stay close to the (capped) matches,
-- and a stored copy of every subscriber's fields would cost each import ~3 s per million rows.
CREATE INDEX subscribers_folded_fields_idx ON subscribers USING gin (subscriber_folded_fields(fields) jsonb_path_ops);
-- "@example5.com": a page of a domain's subscribers, newest first, straight from the index; "C" order so that
-- "@gmail" (gmail.com, gmail.co.uk) is a range of it.
CREATE INDEX subscribers_domain_idx ON subscribers (workspace_id, email_domain COLLATE "C", id);
-- The exact-case index served only the subscriber search; the folded one replaces it.
DROP INDEX subscribers_fields_idx;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)

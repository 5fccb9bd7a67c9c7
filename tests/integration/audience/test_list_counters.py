"""List counters kept by triggers always equal what COUNT(*) would say."""

import asyncpg
import pytest

from tests.factories import make_workspace

STATUSES = ("unconfirmed", "confirmed", "unsubscribed", "bounced", "complained", "blacklisted")


@pytest.fixture
async def db(services):
    connection = await asyncpg.connect(services.database_url)
    yield connection
    await connection.close()


async def _assert_counters_match(db, list_id: int) -> None:
    counted = await db.fetchrow(
        "SELECT count(*) AS total, "
        + ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}" for s in STATUSES)
        + " FROM subscribers WHERE list_id = $1",
        list_id,
    )
    kept = await db.fetchrow("SELECT * FROM list_counters WHERE list_id = $1", list_id)
    kept = dict(kept) if kept else {"total": 0, **dict.fromkeys(STATUSES, 0)}
    assert {k: kept[k] for k in counted.keys()} == dict(counted)


async def test_counters_follow_inserts_status_changes_moves_and_deletes(db):
    workspace = await make_workspace()
    ws = workspace["id"]
    first = await db.fetchval("INSERT INTO lists (workspace_id, name) VALUES ($1, 'A') RETURNING id", ws)
    second = await db.fetchval("INSERT INTO lists (workspace_id, name) VALUES ($1, 'B') RETURNING id", ws)
    await db.execute(
        "INSERT INTO subscribers (workspace_id, list_id, email, status) "
        "SELECT $1, $2, 'u' || g || '@example.com', (ARRAY['confirmed','unconfirmed','bounced'])[1 + g % 3] "
        "FROM generate_series(1, 300) g",
        ws, first,
    )
    await _assert_counters_match(db, first)
    await db.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE list_id = $1 AND id % 7 = 0", first)
    await db.execute("UPDATE subscribers SET fields = '{\"a\": 1}' WHERE list_id = $1", first)
    await _assert_counters_match(db, first)
    await db.execute("UPDATE subscribers SET list_id = $2 WHERE list_id = $1 AND id % 5 = 0", first, second)
    await _assert_counters_match(db, first)
    await _assert_counters_match(db, second)
    # One statement moving subscribers both ways and changing some statuses on the way.
    await db.execute(
        "UPDATE subscribers SET list_id = CASE WHEN list_id = $1 THEN $2 ELSE $1 END, "
        "status = CASE WHEN id % 3 = 0 THEN 'complained' ELSE status END "
        "WHERE list_id IN ($1, $2) AND id % 4 = 0", first, second)
    await _assert_counters_match(db, first)
    await _assert_counters_match(db, second)
    await db.execute("DELETE FROM subscribers WHERE list_id = $1 AND id % 2 = 0", first)
    await _assert_counters_match(db, first)
    joined = await db.fetchval("SELECT sum(joined) FROM list_daily_stats WHERE list_id = $1", first)
    left = await db.fetchval("SELECT sum(left_list) FROM list_daily_stats WHERE list_id = $1", first)
    assert joined == 300 and left > 0


async def test_deleting_a_list_cascades_without_errors(db):
    workspace = await make_workspace()
    list_id = await db.fetchval("INSERT INTO lists (workspace_id, name) VALUES ($1, 'Gone') RETURNING id",
                                workspace["id"])
    await db.execute("INSERT INTO subscribers (workspace_id, list_id, email) VALUES ($1, $2, 'a@example.com')",
                     workspace["id"], list_id)
    await db.execute("DELETE FROM lists WHERE id = $1", list_id)
    assert await db.fetchval("SELECT count(*) FROM list_counters WHERE list_id = $1", list_id) == 0

"""A `timezone` column of an import fills the subscriber's time zone, when it names a real zone."""

from __future__ import annotations

import asyncpg

from tests.factories import make_workspace
from tests.integration.imports.helpers import import_file, make_list, write

FIELDS = ({"tag": "timezone", "label": "Time zone"}, {"tag": "country", "label": "Country"})


async def test_an_imported_time_zone_is_kept_when_valid_and_updated_by_a_later_import(services, tmp_path):
    workspace = await make_workspace()
    db = await asyncpg.connect(services.database_url)
    try:
        list_id = await make_list(db, workspace["id"], fields=FIELDS)
        first = write(tmp_path / "first.csv", "\n".join([
            "Email,Time zone,Country",
            "ann@example.com,Europe/Berlin,DE",
            "bob@example.com,Mars/Olympus_Mons,",
            "cy@example.com,,JP",
            "di@example.com,europe/berlin,",
        ]) + "\n")
        assert (await import_file(workspace["id"], list_id, first))["status"] == "completed"
        zones = dict(await db.fetch("SELECT email, timezone FROM subscribers WHERE list_id = $1", list_id))
        assert zones == {"ann@example.com": "Europe/Berlin", "bob@example.com": "", "cy@example.com": "",
                         "di@example.com": ""}

        second = write(tmp_path / "second.csv", "Email,Time zone\nbob@example.com,America/Chicago\n"
                                                 "ann@example.com,Nowhere\n")
        assert (await import_file(workspace["id"], list_id, second, mode="add_update"))["status"] == "completed"
        zones = dict(await db.fetch("SELECT email, timezone FROM subscribers WHERE list_id = $1", list_id))
        assert (zones["bob@example.com"], zones["ann@example.com"]) == ("America/Chicago", "Europe/Berlin")
    finally:
        await db.close()

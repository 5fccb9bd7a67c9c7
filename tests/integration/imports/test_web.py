"""The browser's path through imports: upload, mapping, start, live events, summary, rejects, export, tenancy."""

from __future__ import annotations

import csv
import io

from app.redis_client import get_broker_redis, get_redis
from app.services import imports
from tests.factories import csrf_token, login, make_user, make_workspace, post_form, prime_csrf, signed_in_client
from tests.integration.imports.helpers import make_list, upload, web_upload, write

CSV = ("Email;First name;Age\n"
       "ann@example.com;Ann;34\n"
       "bad-address;X;1\n"
       "bob@example.com;Bob;old\n"
       "cy@example.com;=SUM(A1);5\n"
       "ann@example.com;Again;40\n").encode("latin-1")
FIELDS = ({"tag": "first_name", "label": "First name"}, {"tag": "age", "label": "Age", "kind": "number"})


async def _upload(client, list_id: int, body: bytes = CSV, via_header: bool = True):
    token = await prime_csrf(client)
    files = {"file": ("people.csv", body, "text/csv")}
    if via_header:  # as htmx sends it: the token in a header, so the body streams straight to disk
        return await client.post(f"/mailing/lists/{list_id}/imports", files=files, headers={"x-csrftoken": token})
    return await client.post(f"/mailing/lists/{list_id}/imports", files=files, data={"_csrf_token": token})


async def _run_queued(workspace_id: int, import_id: int) -> dict:
    """What the worker would do with the message the start button enqueued."""
    return await imports.run_import(workspace_id, import_id, get_redis())


async def test_upload_map_start_follow_and_download(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"], fields=FIELDS)
    response = await _upload(client, list_id)
    assert response.status_code == 303, response.text[:300]
    mapping_url = response.headers["location"]
    import_id = int(mapping_url.split("/")[3])

    page = await client.get(mapping_url)
    assert page.status_code == 200
    assert 'data-testid="preview-row"' in page.text and "ann@example.com" in page.text
    assert 'value="email" selected' in page.text and 'value="field:age" selected' in page.text

    started = await post_form(client, f"/mailing/imports/{import_id}/start", {
        "column_0": "email", "column_1": "field:first_name", "column_2": "field:age", "mode": "add",
        "status": "confirmed", "has_header": "yes"})
    assert started.status_code == 303
    detail = await client.get(f"/mailing/imports/{import_id}")
    assert 'sse-connect="/mailing/imports/' in detail.text and 'data-status="pending"' in detail.text
    assert await get_broker_redis().llen("dramatiq:imports") == 1  # the actor message waits for a worker

    final = await _run_queued(workspace["id"], import_id)
    assert (final["inserted"], final["invalid"], final["skipped_duplicate"]) == (2, 2, 1)

    events = await client.get(f"/mailing/imports/{import_id}/events")
    assert "event: progress" in events.text and "event: done" in events.text
    assert 'data-status="completed"' in events.text and "100%" in events.text
    summary = await client.get(f"/mailing/imports/{import_id}")
    assert "sse-connect" not in summary.text and 'data-testid="import-rejects-download"' in summary.text

    rejects = await client.get(f"/mailing/imports/{import_id}/rejects.csv")
    assert rejects.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(rejects.text)))
    assert [r["row"] for r in rows] == ["3", "4"] and rows[1]["reason"] == "bad number in Age: 'old'"

    history = await client.get(f"/mailing/lists/{list_id}/imports")
    assert f'data-testid="import-row-{import_id}"' in history.text

    export = await client.get(f"/mailing/lists/{list_id}/export.csv", params={"field": ["first_name", "nope"]})
    exported = list(csv.reader(io.StringIO(export.text)))
    assert exported[0] == ["email", "status", "subscribed_at", "first_name"]
    assert [(r[0], r[1], r[3]) for r in exported[1:]] == [("ann@example.com", "confirmed", "Ann"),
                                                          ("cy@example.com", "confirmed", "'=SUM(A1)")]

    htmx = {"HX-Request": "true"}
    rolled = await post_form(client, f"/mailing/imports/{import_id}/rollback", headers=htmx)
    assert rolled.text.lstrip().startswith('<section id="import-panel"') and 'data-status="rolled_back"' in rolled.text
    again = await post_form(client, f"/mailing/imports/{import_id}/rollback", headers=htmx)
    assert again.status_code == 200 and "cannot be rolled back now" in again.text
    assert await db.fetchval("SELECT count(*) FROM subscribers WHERE list_id = $1", list_id) == 0


async def test_upload_without_a_header_token_and_wrong_file_types(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    response = await _upload(client, list_id, via_header=False)
    assert response.status_code == 303
    refused = await client.post(f"/mailing/lists/{list_id}/imports", headers={"x-csrftoken": csrf_token(client)},
                                files={"file": ("photo.png", b"\x89PNG....", "image/png")})
    assert refused.status_code == 422 and "Upload a .csv" in refused.text


async def test_an_empty_or_binary_upload_is_answered_next_to_the_file_field(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    for name, body, message in (("empty.csv", b"", "is empty (0 bytes)"),
                                ("scan.csv", b"%PDF-1.7\n" + bytes(range(256)), "a PDF document")):
        refused = await web_upload(client, list_id, name, body)
        assert refused.status_code == 422, name
        error = refused.text.split('data-testid="error-file"')[1].split("</p>")[0]
        assert message in error, name
        assert 'data-testid="import-upload-form"' in refused.text
    assert await db.fetchval("SELECT count(*) FROM imports") == 0


async def test_mapping_errors_are_shown_next_to_the_columns(client, db):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"], fields=({"tag": "country", "label": "Country", "required": True},))
    import_id = int((await _upload(client, list_id, b"name,phone\nAnn,123\n")).headers["location"].split("/")[3])
    page = await client.get(f"/mailing/imports/{import_id}/mapping")
    assert 'data-testid="import-no-email"' in page.text
    response = await post_form(client, f"/mailing/imports/{import_id}/start", {"column_0": "", "mode": "add"})
    assert response.status_code == 422 and 'data-testid="error-mapping"' in response.text
    assert 'value="unsubscribe" class="checkbox" data-testid="mode-unsubscribe"' in response.text
    assert (await imports.get_import(workspace["id"], import_id))["mapping"] == {}
    kept = await post_form(client, f"/mailing/imports/{import_id}/start", {"column_0": "", "mode": "unsubscribe"})
    assert 'value="unsubscribe" class="checkbox" data-testid="mode-unsubscribe" checked' in kept.text
    response = await post_form(client, f"/mailing/imports/{import_id}/start", {"column_1": "email", "mode": "add"})
    assert "required field(s) Country" in response.text
    reread = await client.get(f"/mailing/imports/{import_id}/mapping", params={"delimiter": ";"},
                              headers={"HX-Request": "true"})
    assert reread.text.lstrip().startswith('<div id="mapping"')


async def test_another_workspace_sees_nothing(client, db, tmp_path):
    alpha, beta = await make_workspace("Alpha"), await make_workspace("Beta")
    user = await make_user(alpha, "owner")
    list_id = await make_list(db, beta["id"])
    row = await upload(beta["id"], list_id, write(tmp_path / "b.csv", "email\nb@example.com\n"))
    await login(client, user["email"])
    for url in (f"/mailing/imports/{row['id']}", f"/mailing/imports/{row['id']}/mapping",
                f"/mailing/imports/{row['id']}/events", f"/mailing/imports/{row['id']}/rejects.csv",
                f"/mailing/lists/{list_id}/imports", f"/mailing/lists/{list_id}/imports/new",
                f"/mailing/lists/{list_id}/export.csv"):
        assert (await client.get(url)).status_code == 404, url
    for action in ("cancel", "resume", "rollback", "start", "discard"):
        assert (await post_form(client, f"/mailing/imports/{row['id']}/{action}")).status_code == 404, action
    assert (await _upload(client, list_id)).status_code == 404
    assert await imports.get_import(alpha["id"], row["id"]) is None


async def test_analysts_may_not_import_or_export(client, db):
    workspace, _ = await signed_in_client(client, role="analyst")
    list_id = await make_list(db, workspace["id"])
    assert (await _upload(client, list_id)).status_code == 403
    assert (await client.get(f"/mailing/lists/{list_id}/export.csv")).status_code == 403


async def test_a_segment_exports_its_mailable_subscribers(client, db):
    workspace, _ = await signed_in_client(client)
    ws = workspace["id"]
    list_id = await make_list(db, ws, fields=FIELDS)
    await db.execute(
        "INSERT INTO subscribers (workspace_id, list_id, email, status, fields) VALUES "
        "($1, $2, 'in@example.com', 'confirmed', '{\"first_name\": \"In\"}'), "
        "($1, $2, 'gone@example.com', 'unsubscribed', '{}'), ($1, $2, 'blocked@example.com', 'confirmed', '{}')",
        ws, list_id)
    blacklist = await db.fetchval("INSERT INTO suppression_lists (workspace_id, name, is_blacklist) "
                                  "VALUES ($1, 'Blacklist', true) RETURNING id", ws)
    await db.execute("INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value) "
                     "VALUES ($1, $2, 'email', 'blocked@example.com')", ws, blacklist)
    segment_id = await db.fetchval(
        "INSERT INTO segments (workspace_id, name, list_ids) VALUES ($1, 'Everyone', ARRAY[$2::int]) RETURNING id",
        ws, list_id)
    response = await client.get(f"/mailing/segments/{segment_id}/export.csv", params={"field": "first_name"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["email", "status", "subscribed_at", "first_name"]
    assert [(r[0], r[3]) for r in rows[1:]] == [("in@example.com", "In")]
    other = await make_workspace("Other")
    other_segment = await db.fetchval(
        "INSERT INTO segments (workspace_id, name) VALUES ($1, 'Theirs') RETURNING id", other["id"])
    assert (await client.get(f"/mailing/segments/{other_segment}/export.csv")).status_code == 404

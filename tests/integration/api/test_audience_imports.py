"""Imports through the API: from S3 (moto on loopback) or a multipart upload, mapped as asked or as suggested,
queued, and followed through their status; one that cannot start leaves nothing behind."""

from __future__ import annotations

import boto3
import pytest

from app.db.audience import Subscriber
from app.db.imports import Import
from app.redis_client import get_redis
from app.services import custom_fields, imports
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_workspace

CREDENTIALS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing"}


@pytest.fixture
def bucket(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="feeds")
    client.put_object(Bucket="feeds", Key="daily.csv", Body=b"Email,Town\na@example.com,Oslo\nb@example.com,Rome\n")
    yield "feeds"
    for item in client.list_objects_v2(Bucket="feeds").get("Contents", []):
        client.delete_object(Bucket="feeds", Key=item["Key"])
    client.delete_bucket(Bucket="feeds")


async def _setup(scopes=("subscribers:write",)) -> tuple[dict, dict, dict[str, str]]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Feed")
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "City"})
    return workspace, mailing_list, bearer(await api_key(workspace, scopes=scopes))


async def _finished(client, headers: dict[str, str], workspace: dict, import_id: int) -> dict:
    """The import run as the queued worker would run it, then read through the API."""
    await imports.run_import(workspace["id"], import_id, get_redis())
    answer = await client.get(f"/api/v1/imports/{import_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_an_s3_import_is_mapped_as_asked_and_followed_to_its_end(client, s3_endpoint, bucket):
    workspace, mailing_list, headers = await _setup()
    answer = await client.post(f"/api/v1/lists/{mailing_list['id']}/imports", headers=headers, json={
        "location": f"s3://{bucket}/daily.csv", "endpoint_url": s3_endpoint, **CREDENTIALS,
        "columns": {"0": "email", "1": "field:city"}})
    assert answer.status_code == 202, answer.text
    assert (answer.json()["status"], answer.json()["mode"]) == ("pending", "add")
    final = await _finished(client, headers, workspace, answer.json()["id"])
    assert (final["status"], final["inserted"], final["percent"]) == ("completed", 2, 100)
    rows = await mailing_list_rows(mailing_list)
    assert rows == {"a@example.com": {"city": "Oslo"}, "b@example.com": {"city": "Rome"}}


async def test_an_upload_is_imported_with_the_suggested_mapping(client):
    workspace, mailing_list, headers = await _setup()
    answer = await client.post(f"/api/v1/lists/{mailing_list['id']}/imports/upload", headers=headers,
                               files={"file": ("people.csv", b"email,city\nc@example.com,Lima\n", "text/csv")},
                               data={"mode": "add", "status": "unconfirmed"})
    assert answer.status_code == 202, answer.text
    final = await _finished(client, headers, workspace, answer.json()["id"])
    assert (final["status"], final["inserted"], final["filename"]) == ("completed", 1, "people.csv")
    assert await mailing_list_rows(mailing_list) == {"c@example.com": {"city": "Lima"}}
    assert await Subscriber.count().where(Subscriber.list_id == mailing_list["id"],
                                          Subscriber.status == "unconfirmed") == 1


async def test_a_file_without_an_address_column_is_refused_and_discarded(client):
    workspace, mailing_list, headers = await _setup()
    answer = await client.post(f"/api/v1/lists/{mailing_list['id']}/imports/upload", headers=headers,
                               files={"file": ("people.csv", b"name,city\nAnn,Lima\n", "text/csv")})
    assert answer.status_code == 422
    assert answer.json()["error"]["fields"]
    assert await Import.count().where(Import.workspace_id == workspace["id"]) == 0


async def test_imports_of_another_workspace_are_not_found(client):
    _, _, headers = await _setup()
    other = await make_workspace()
    theirs = await make_list(other, "Theirs")
    upload = await client.post(f"/api/v1/lists/{theirs['id']}/imports/upload", headers=headers,
                               files={"file": ("p.csv", b"email\nx@example.com\n", "text/csv")})
    assert upload.status_code == 404
    row = await Import.insert(Import(workspace_id=other["id"], list_id=theirs["id"])).returning(Import.id)
    assert (await client.get(f"/api/v1/imports/{row[0]['id']}", headers=headers)).status_code == 404
    assert await Import.count() == 1


async def test_imports_need_the_write_scope(client):
    _, mailing_list, headers = await _setup(scopes=("subscribers:read",))
    answer = await client.post(f"/api/v1/lists/{mailing_list['id']}/imports/upload", headers=headers,
                               files={"file": ("p.csv", b"email\nx@example.com\n", "text/csv")})
    assert answer.status_code == 403
    assert await Import.count() == 0


async def mailing_list_rows(mailing_list: dict) -> dict[str, dict]:
    rows = await Subscriber.select(Subscriber.email, Subscriber.fields).where(
        Subscriber.list_id == mailing_list["id"]).output(load_json=True)
    return {row["email"]: row["fields"] for row in rows}

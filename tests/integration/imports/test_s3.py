"""Imports from S3 (moto in server mode): every object under a prefix, or one key, streamed with ranged GETs."""

from __future__ import annotations

import io

import boto3
import pytest
from openpyxl import Workbook

from app.redis_client import get_redis
from app.services import imports
from app.services.imports import ImportProblem
from tests.factories import post_form, signed_in_client
from tests.integration.imports.helpers import make_list, start_suggested

CREDENTIALS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing"}


@pytest.fixture
def bucket(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    name = "exports"
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="daily/", Body=b"")
    client.put_object(Bucket=name, Key="daily/part-1.csv", Body="email;city\nA1@example.com;Zürich\n"
                      "a2@example.com;Köln\n".encode("utf-16"))
    client.put_object(Bucket=name, Key="daily/part-2.csv", Body=b"email;city\na3@example.com;Oslo\n"
                      b"a1@example.com;Again\n")
    workbook = Workbook()
    workbook.active.append(["email", "city"])
    workbook.active.append(["xl@example.com", "Excel"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    client.put_object(Bucket=name, Key="daily/part-3.xlsx", Body=buffer.getvalue())
    yield name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


async def test_every_object_under_a_prefix_is_imported(db, workspace, s3_endpoint, bucket):
    list_id = await make_list(db, workspace["id"], fields=({"tag": "city", "label": "City"},))
    row = await imports.create_from_s3(workspace["id"], list_id, None,
                                       {"location": f"s3://{bucket}/daily/", "endpoint_url": s3_endpoint,
                                        **CREDENTIALS})
    assert [name for name, _ in row["options"]["parts"]] == ["daily/part-1.csv", "daily/part-2.csv",
                                                            "daily/part-3.xlsx"]
    assert row["options"]["s3"]["sealed_secret"] != "testing"
    row = await start_suggested(workspace["id"], row)
    final = await imports.run_import(workspace["id"], row["id"], get_redis(), batch_rows=2)
    assert final["status"] == "completed", final["error"]
    assert (final["rows_seen"], final["inserted"], final["skipped_duplicate"]) == (5, 4, 1)
    cities = dict(await db.fetch("SELECT email, fields->>'city' FROM subscribers WHERE list_id = $1", list_id))
    assert cities == {"a1@example.com": "Zürich", "a2@example.com": "Köln", "a3@example.com": "Oslo",
                      "xl@example.com": "Excel"}
    assert "sealed_secret" not in final["options"]["s3"]


async def test_one_key_through_the_web_form(client, db, s3_endpoint, bucket):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    response = await post_form(client, f"/mailing/lists/{list_id}/imports/s3", {
        "location": f"s3://{bucket}/daily/part-2.csv", "endpoint_url": s3_endpoint, **CREDENTIALS})
    assert response.status_code == 303
    import_id = int(response.headers["location"].split("/")[3])
    assert "a3@example.com" in (await client.get(response.headers["location"])).text
    row = await imports.get_import(workspace["id"], import_id)
    assert row["total_bytes"] == len(b"email;city\na3@example.com;Oslo\na1@example.com;Again\n")


async def test_missing_bucket_or_prefix_is_a_clear_message(client, db, s3_endpoint, bucket):
    workspace, _ = await signed_in_client(client)
    list_id = await make_list(db, workspace["id"])
    with pytest.raises(ImportProblem, match="does not exist"):
        await imports.create_from_s3(workspace["id"], list_id, None,
                                     {"location": "s3://nope/x", "endpoint_url": s3_endpoint, **CREDENTIALS})
    response = await post_form(client, f"/mailing/lists/{list_id}/imports/s3", {
        "location": f"s3://{bucket}/nothing-here/", "endpoint_url": s3_endpoint, **CREDENTIALS})
    assert response.status_code == 422 and "No files were found" in response.text
    assert 'value="testing"' not in response.text.split('name="secret_access_key"')[1][:200]

"""Every labelled row of the shared bounce corpus: the category AND status the parser gives its recipient.

Rows the parser does not get right yet are listed in KNOWN_MISSES with the reason, as expected
failures (strict: a row that starts passing must leave the set), so the set can only shrink.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.services.bounces.reports import parse_report

# A copy of the shared corpus (see its README.md for its source and licence), so every checkout tests it.
CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "bounces" / "corpus"

# "file:recipient index" -> why the parser gets it wrong today.
KNOWN_MISSES: dict[str, str] = {
    "arf-26.eml:0": "category differs",
    "lhost-amazonses-01.eml:0": "category differs",
    "lhost-exchange2007-05.eml:0": "status differs",
    "lhost-exim-53.eml:0": "status differs",
    "lhost-exim-60.eml:0": "status differs",
    "lhost-messagingserver-02.eml:0": "category differs",
    "lhost-postfix-01.eml:0": "category differs",
    "lhost-postfix-04.eml:0": "category differs",
    "lhost-postfix-09.eml:0": "category differs",
    "lhost-postfix-17.eml:0": "category differs",
    "lhost-postfix-46.eml:0": "category differs",
    "lhost-postfix-59.eml:0": "category differs",
    "lhost-postfix-64.eml:0": "status differs",
    "lhost-postfix-75.eml:0": "category differs",
    "lhost-qmail-04.eml:0": "category differs",
    "lhost-qmail-11.eml:0": "category differs",
    "lhost-sendmail-18.eml:0": "status differs",
    "lhost-sendmail-56.eml:0": "status differs",
    "rfc3464-01.eml:0": "category differs",
    "lhost-notes-01.eml:0": "nothing recognised and no status: kept as unknown for review (the reference says onhold)",
    "rfc3464-28.eml:1": "recipient not found in the free text",
    "rfc3464-39.eml:0": "nothing recognised and no status: kept as unknown for review (the reference says onhold)",
    "rfc3464-29.eml:0": "category differs",
    "rhost-messagelabs-03.eml:0": "category differs",
    "rhost-spectrum-01.eml:0": "category differs",
}


def corpus_rows() -> list[dict[str, str]]:
    with (CORPUS / "expected.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def row_param(row: dict[str, str]) -> object:
    key = f"{row['file']}:{row['recipient_index']}"
    marks = [pytest.mark.xfail(reason=KNOWN_MISSES[key], strict=True)] if key in KNOWN_MISSES else []
    return pytest.param(row, id=key, marks=marks)


@pytest.mark.parametrize("row", [row_param(r) for r in corpus_rows()])
def test_corpus_row_gets_its_category_and_status(row: dict[str, str]) -> None:
    outcomes = parse_report((CORPUS / row["file"]).read_bytes()).outcomes
    index = int(row["recipient_index"])
    assert index < len(outcomes), f"only {len(outcomes)} recipients found"
    outcome = outcomes[index]
    assert outcome.category in row["category"].split("|")
    assert outcome.status == row["status"]


def test_the_known_misses_are_rows_of_the_corpus() -> None:
    keys = {f"{r['file']}:{r['recipient_index']}" for r in corpus_rows()}
    assert not keys or set(KNOWN_MISSES) <= keys

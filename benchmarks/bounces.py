"""Bounce classification measured against the labelled corpus.

Prints the share of `expected.tsv` rows whose category AND status the parser and classifier get
right (a row labelled `hard|block` accepts either category), the number of rows, and reports processed
per second through the queue with real workers (benchmarks/bounce_throughput.py):

    .venv/bin/python benchmarks/bounces.py [--quick] [--corpus DIR] [--show-misses]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from app.services.bounces.model import Outcome
from app.services.bounces.reports import parse_report

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bounces" / "corpus"
QUICK_FILES = 120


@dataclass(frozen=True)
class Row:
    file: str
    index: int
    status: str
    category: str


@dataclass(frozen=True)
class Verdict:
    row: Row
    outcome: Outcome | None

    @property
    def right(self) -> bool:
        if self.outcome is None:
            return False
        categories = self.row.category.split("|")
        return self.outcome.category in categories and self.outcome.status == self.row.status


def corpus_rows(corpus: Path) -> list[Row]:
    with (corpus / "expected.tsv").open(newline="") as handle:
        return [
            Row(file=r["file"], index=int(r["recipient_index"]), status=r["status"], category=r["category"])
            for r in csv.DictReader(handle, delimiter="\t")
        ]


def corpus_verdicts(corpus: Path, rows: list[Row]) -> list[Verdict]:
    """Each row with the outcome the parser gives for its recipient position (None when missing)."""
    outcomes: dict[str, tuple[Outcome, ...]] = {}
    verdicts = []
    for row in rows:
        if row.file not in outcomes:
            outcomes[row.file] = parse_report((corpus / row.file).read_bytes()).outcomes
        found = outcomes[row.file]
        verdicts.append(Verdict(row, found[row.index] if row.index < len(found) else None))
    return verdicts


def classifier_accuracy(verdicts: list[Verdict]) -> float:
    return sum(v.right for v in verdicts) / len(verdicts) if verdicts else 0.0


def print_misses(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        if not v.right:
            got = f"{v.outcome.category} {v.outcome.status} {v.outcome.rule}" if v.outcome else "missing"
            print(f"  {v.row.file}[{v.row.index}] want {v.row.category} {v.row.status} got {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_FILES} files")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    rows = corpus_rows(args.corpus)
    if args.quick:
        files = sorted({r.file for r in rows})[:QUICK_FILES]
        rows = [r for r in rows if r.file in set(files)]
    verdicts = corpus_verdicts(args.corpus, rows)
    if args.show_misses:
        print_misses(verdicts)
    print(f"classifier_accuracy: {classifier_accuracy(verdicts):.3f} ratio")
    print(f"corpus_size: {len(rows)} rows", flush=True)
    from bounce_throughput import throughput

    print(f"bounces_per_s: {throughput(1000 if args.quick else 5000):.0f} reports/s")


if __name__ == "__main__":
    main()

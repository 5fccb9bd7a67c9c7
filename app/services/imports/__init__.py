"""Audience imports: CSV/XLSX files, uploaded or from S3, streamed into a list in batches.

The pieces, in the order a file meets them: `uploads` (the request body to
disk), `sources` (bytes from disk or S3), `formats` and `spreadsheets` (CSV
encodings and delimiters, XLSX rows), `mapping` (header, email column,
suggestions), `rows` (normalise and validate), `batches` (resumable
positions), `loading` (COPY and one statement per batch), `runner` (a run
from its cursor to the end), `control` (what the marketer can do),
`progress` (Redis), `reports` (the rejected rows).
"""

from app.services.imports.control import (
    DELIMITER_NAMES,
    MODES,
    allowed_actions,
    analyse_import,
    cancel,
    create_from_s3,
    create_from_upload,
    get_import,
    history,
    reading_options,
    resume,
    rollback,
    start,
)
from app.services.imports.errors import ImportProblem, ImportStateError
from app.services.imports.formats import ENCODINGS
from app.services.imports.mapping import Analysis
from app.services.imports.progress import FINISHED, follow, is_alive, snapshot
from app.services.imports.reports import rejects_csv
from app.services.imports.runner import run_import
from app.services.imports.sources import upload_folder
from app.services.imports.uploads import ReceivedUpload, discard, receive_multipart, store_stream

__all__ = [
    "DELIMITER_NAMES",
    "ENCODINGS",
    "FINISHED",
    "MODES",
    "Analysis",
    "ImportProblem",
    "ImportStateError",
    "ReceivedUpload",
    "allowed_actions",
    "analyse_import",
    "cancel",
    "create_from_s3",
    "create_from_upload",
    "discard",
    "follow",
    "get_import",
    "history",
    "is_alive",
    "reading_options",
    "receive_multipart",
    "rejects_csv",
    "resume",
    "rollback",
    "run_import",
    "snapshot",
    "start",
    "store_stream",
    "upload_folder",
]

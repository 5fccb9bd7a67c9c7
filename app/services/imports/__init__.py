"""Audience imports: CSV/XLSX files, uploaded or from S3, streamed into a list in batches.

The pieces, in the order a file meets them: `uploads` (the request body to
disk, checked, then to the shared store), `limits` (what a file may hold),
`sources` (bytes from the shared store or S3), `formats` and `spreadsheets`
(CSV encodings and delimiters, XLSX rows), `mapping` (header, email column,
suggestions), `rows` (normalise and validate), `batches` (resumable
positions), `loading` (COPY and one statement per batch), `runner` (a run
from its cursor to the end), `control` (what the marketer can do),
`discards` (imports never started), `progress` (Redis), `reports` (the
rejected rows).
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
    mapping_preview,
    reading_options,
    resume,
    rollback,
    start,
)
from app.services.imports.discards import discard_import, discard_unstarted
from app.services.imports.errors import ImportProblem, ImportStateError
from app.services.imports.formats import ENCODINGS
from app.services.imports.mapping import Analysis
from app.services.imports.progress import FINISHED, follow, is_alive, snapshot
from app.services.imports.reports import rejects_csv
from app.services.imports.runner import run_import
from app.services.imports.uploads import (
    ReceivedUpload,
    StoredUpload,
    incoming_folder,
    keep_upload,
    receive_multipart,
    store_stream,
)

__all__ = [
    "DELIMITER_NAMES",
    "ENCODINGS",
    "FINISHED",
    "MODES",
    "Analysis",
    "ImportProblem",
    "ImportStateError",
    "ReceivedUpload",
    "StoredUpload",
    "allowed_actions",
    "analyse_import",
    "cancel",
    "create_from_s3",
    "create_from_upload",
    "discard_import",
    "discard_unstarted",
    "follow",
    "get_import",
    "history",
    "incoming_folder",
    "is_alive",
    "keep_upload",
    "mapping_preview",
    "reading_options",
    "receive_multipart",
    "rejects_csv",
    "resume",
    "rollback",
    "run_import",
    "snapshot",
    "start",
    "store_stream",
]

"""Sessions in HDF5: schema, crash-safe writer, reader, importers (CSV, HuGaDB).

* ``schema``    — names, types and units of every dataset (schema v1; docs/session-schema.md).
* ``writer``    — :class:`SessionWriter`: append-only, SWMR, flushes at least once a second;
  every change to an existing file is made on a copy and swapped in atomically.
* ``reader``    — :func:`open_session`: metadata, raw and SI data, strides, summaries, markers;
  recovers a dead writer's file, names partial files and counts damage.
* ``repair``    — who writes a file: write marks, writer identity, the session lock.
* ``results``   — analysis results stored as ``/derived`` runs with provenance (the analysis
  itself is run by :func:`imugait.app.analyze_session` / :func:`imugait.app.process_session`).
* ``importers`` — CSV and HuGaDB files -> sessions.
* ``csvio``     — the documented CSV layout (read/write).
* ``hugadb``    — HuGaDB v1 text files.

The public names below are imported lazily: importing ``imugait.store`` does not import h5py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imugait._lazy import lazy_exports

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from imugait.store.reader import open_session
    from imugait.store.writer import SessionWriteError, SessionWriter, rewrite_session
    from imugait.store.results import SessionAnalysis, file_fingerprint, store_analysis, write_run
    from imugait.store.importers import (ImportReport, SideArrays, import_csv, import_hugadb, write_arrays,
                                         write_session_arrays)
    from imugait.store.csvio import read_imu_csv, write_imu_csv
    from imugait.store.hugadb import GYR_SCALE_DPS, HUGADB_FS_HZ, is_hugadb_file, normalise_column, read_hugadb
    from imugait.store.repair import SessionBusyError, SessionLock

_LAZY = {
    **dict.fromkeys(("open_session",), "imugait.store.reader"),
    **dict.fromkeys(("SessionWriteError", "SessionWriter", "rewrite_session"), "imugait.store.writer"),
    **dict.fromkeys(("SessionAnalysis", "file_fingerprint", "store_analysis", "write_run"), "imugait.store.results"),
    **dict.fromkeys(("ImportReport", "SideArrays", "import_csv", "import_hugadb", "write_arrays", "write_session_arrays"),
                    "imugait.store.importers"),
    **dict.fromkeys(("read_imu_csv", "write_imu_csv"), "imugait.store.csvio"),
    **dict.fromkeys(("GYR_SCALE_DPS", "HUGADB_FS_HZ", "is_hugadb_file", "normalise_column", "read_hugadb"), "imugait.store.hugadb"),
    **dict.fromkeys(("SessionBusyError", "SessionLock"), "imugait.store.repair"),
}

__all__ = ["file_fingerprint", "GYR_SCALE_DPS", "HUGADB_FS_HZ", "import_csv",
           "import_hugadb", "ImportReport", "is_hugadb_file", "normalise_column", "open_session",
           "read_hugadb", "read_imu_csv", "rewrite_session", "SessionAnalysis",
           "SessionBusyError", "SessionLock", "SessionWriteError", "SessionWriter", "SideArrays", "store_analysis",
           "write_arrays", "write_imu_csv", "write_run", "write_session_arrays"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

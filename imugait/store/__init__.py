"""Sessions in HDF5: schema, crash-safe writer, reader, importers (CSV, HuGaDB).

* ``schema``    — names, types and units of every dataset (schema v1; docs/session-schema.md).
* ``writer``    — :class:`SessionWriter`: append-only, SWMR, flushes at least once a second;
  every change to an existing file is made on a copy and swapped in atomically.
* ``reader``    — :func:`open_session`: metadata, raw and SI data, strides, summaries, markers;
  recovers a dead writer's file, names partial files and counts damage.
* ``repair``    — who writes a file: write marks, writer identity, the session lock.
* ``process``   — :func:`process_session`: analyse raw data, store derived results with provenance.
* ``importers`` — CSV and HuGaDB files -> sessions.
* ``csvio``     — the documented CSV layout (read/write).
* ``hugadb``    — HuGaDB v1 text files.
"""

from __future__ import annotations


def __getattr__(name):  # lazy: importing imugait.store does not import h5py
    if name == "open_session":
        from imugait.store.reader import open_session

        return open_session
    if name == "process_session":
        from imugait.store.process import process_session

        return process_session
    if name == "SessionWriter":
        from imugait.store.writer import SessionWriter

        return SessionWriter
    raise AttributeError(name)


__all__ = ["open_session", "process_session", "SessionWriter"]

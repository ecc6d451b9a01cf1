"""Writing result files into an output folder without following planted symlinks.

Every result file imugait writes (``strides.csv``, ``summary.json``, reports, figures,
simulated CSVs …) goes through :func:`atomic_open` / :func:`write_text` /
:func:`write_bytes`:

* the data is written to a new temporary file in the target's folder, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (it cannot be a link someone planted), then moved over
  the target with :func:`os.replace`. A rename replaces a symlink *itself*, so a link
  ``out/strides.csv -> ~/.bashrc`` planted in the output folder is replaced by our file
  and ``~/.bashrc`` is never opened. Readers never see a half-written file, and a crash
  or a full disk leaves the previous file (or none), never a truncated one.
* folders inside the output folder (``sessions/``, a report folder) are refused when
  they are symlinks (:func:`subdir`): a link there would send files outside ``--out``.
* :func:`out_dir` checks the folder the user named: one sentence when it is a file, or
  cannot be created.

The folder the user names with ``--out`` may itself be a symlink (it is their choice).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from imugait.errors import ImugaitError


def jsonable(obj):
    """A JSON-safe copy of ``obj`` — the one cleaner every JSON file and attribute imugait
    writes goes through: NaN/±inf -> ``None`` (``null``), numpy scalars and arrays -> Python
    numbers and lists, dataclass instances -> dicts, tuples -> lists, dict keys -> strings,
    paths and anything else unknown -> ``str``. Dump the result with ``allow_nan=False``."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    return str(obj)


class OutputPathError(ImugaitError):
    """An output path cannot be used (a file where a folder is needed, a symlink, no permission)."""


def _errno_sentence(e: OSError) -> str:
    return e.strerror or type(e).__name__


def out_dir(path, option: str = "--out") -> Path:
    """Create the output folder ``path`` (and parents); one sentence when it cannot be."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{p}: {option} names a file, but results are written into a folder — "
                              f"give a folder name (it is created), e.g. {option} {p.with_suffix('')}_results")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputPathError(f"{p}: a file is in the way of the output folder — give another {option}") from None
    except OSError as e:
        raise OutputPathError(f"{p}: cannot create the output folder ({_errno_sentence(e)}) — "
                              f"check the permissions or give another {option}") from None
    return p


def safe_name(label: str, max_len: int = 60) -> str:
    """A user label (condition, subject id) as one safe file-name part: runs of anything but
    ASCII letters, digits, ``_``, ``.``, ``-`` (``/``, spaces, control characters …) become one
    ``-``; leading/trailing ``-``/``.`` are dropped (no ``..``, no hidden files). Never empty
    (``x``), at most ``max_len`` characters."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(label).strip()).strip("-.")[:max_len].strip("-.")
    return out or "x"


def subdir(parent, name: str) -> Path:
    """``parent/name`` as a real folder (created); a symlink there is refused."""
    p = Path(parent) / name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        try:
            p.mkdir()
        except FileExistsError:  # created meanwhile by another worker
            st = os.lstat(p)
        else:
            return p
    if stat.S_ISLNK(st.st_mode):
        raise OutputPathError(f"{p}: is a symbolic link — imugait does not write through links in its output "
                              "folder (it could overwrite files elsewhere); remove the link or choose another --out")
    if not stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{p}: a file is in the way of a results folder — move it or choose another --out")
    return p


class AtomicFile:
    """A new file that becomes ``path`` on :meth:`commit` (temp file + ``os.replace``)."""

    def __init__(self, path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
        self.path = Path(path)
        if "b" in mode:
            encoding = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        folder = self.path.parent
        for k in range(100):
            tmp = folder / f".{self.path.name}.{os.getpid()}.{k}.tmp"
            try:
                fd = os.open(tmp, flags, 0o644)
            except FileExistsError:
                continue
            except OSError as e:
                raise OutputPathError(f"{self.path}: cannot be written ({_errno_sentence(e)}) — check that the "
                                      "folder exists and is writable, or choose another --out") from None
            break
        else:  # pragma: no cover - 100 stale temp files
            raise OutputPathError(f"{folder}: too many stale temporary files (.{self.path.name}.*.tmp) — delete them")
        self.tmp = tmp
        self.file = os.fdopen(fd, mode, encoding=encoding, newline=newline)
        self.done = False

    def commit(self) -> Path:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise OutputPathError(f"{self.path}: could not be written ({_errno_sentence(e)}) — is the disk full "
                                  "or the folder read-only? Nothing was replaced") from None
        self.done = True
        return self.path

    def discard(self) -> None:
        if not self.file.closed:
            try:
                self.file.close()
            except OSError:
                pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
        self.done = True


@contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """``with atomic_open(p) as f: ...`` — ``p`` appears complete when the block ends, or not at all."""
    af = AtomicFile(path, mode, encoding=encoding, newline=newline)
    try:
        yield af.file
    except OSError as e:
        af.discard()
        raise OutputPathError(f"{af.path}: could not be written ({_errno_sentence(e)}) — is the disk full "
                              "or the folder read-only? Nothing was replaced") from None
    except BaseException:
        af.discard()
        raise
    af.commit()


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


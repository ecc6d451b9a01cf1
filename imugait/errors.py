"""Errors a user can act on.

Every error raised for bad input derives from :class:`ImugaitError`. Its message is one
sentence that names the file or device, the place, the problem and the fix. The CLI prints
the message alone (exit code 1); ``imugait --debug ...`` adds the traceback.
"""

from __future__ import annotations


class ImugaitError(Exception):
    """Base class of all errors meant for the user (printed without traceback)."""

    exit_code = 1


class InputFileError(ImugaitError):
    """A file given by the user cannot be read as expected.

    ``path`` names the file, ``where`` the place in it (``"line 14"``, ``"/sensors/left"``).
    """

    def __init__(self, path, where: str | None, problem: str, fix: str | None = None):
        self.path = str(path)
        self.where = where
        self.problem = problem
        self.fix = fix
        loc = f"{self.path}" + (f" {where}" if where else "")
        msg = f"{loc}: {problem}"
        if fix:
            msg += f" — {fix}"
        super().__init__(msg)


class BluetoothUnavailableError(ImugaitError):
    """Bluetooth cannot be used on this computer (no adapter, powered off, no permission)."""

    exit_code = 2


class DeviceNotFoundError(ImugaitError):
    """A sensor named by the user was not found."""

    exit_code = 3


class FileWriteError(ImugaitError):
    """A file could not be written (disk full, read-only folder, no permission, I/O error).
    What existed before is kept; the message names the file, the cause and the fix."""


_OS_ERRORS = {
    # errno name: (what happened, what to do)
    "ENOSPC": ("the disk is full", "free disk space or write to another disk"),
    "EDQUOT": ("the disk quota is used up", "free space in your quota or write to another disk"),
    "EFBIG": ("the file would exceed the size this system allows for one file",
              "write to another disk or raise the file-size limit (ulimit -f)"),
    "EROFS": ("the file system is read-only", "write to a folder on a writable disk"),
    "EACCES": ("permission denied", "check the folder's permissions or write to another folder"),
    "EPERM": ("the operation is not permitted", "check the folder's permissions or write to another folder"),
    "EIO": ("input/output error (the disk or its connection is failing)", "check the disk and write to another one"),
    "ENOENT": ("the folder does not exist", "create the folder or check the path"),
    "ENOTDIR": ("a part of the path is a file, not a folder", "check the path"),
    "EISDIR": ("the path is a folder", "give a file name"),
}


def os_error_errno(e: BaseException) -> int | None:
    """errno of an OSError, or the one HDF5 names in its message ("errno = 28")."""
    import re

    n = getattr(e, "errno", None)
    if isinstance(n, int):
        return n
    m = re.search(r"errno = (\d+)", str(e))
    return int(m.group(1)) if m else None


def describe_os_error(e: BaseException) -> tuple[str, str]:
    """(what happened, what to do) for an error from the operating system or HDF5."""
    import errno as _errno

    n = os_error_errno(e)
    name = _errno.errorcode.get(n, "") if n is not None else ""
    if name in _OS_ERRORS:
        return _OS_ERRORS[name]
    text = getattr(e, "strerror", None) or str(e).split("(")[0].strip() or type(e).__name__
    return text[:160], "check the disk and the folder's permissions"


def file_write_error(path, doing: str, e: BaseException, kept: str = "") -> FileWriteError:
    """One sentence: "<path>: cannot <doing> — <cause>; <kept> (<fix>)"."""
    what, fix = describe_os_error(e)
    return FileWriteError(f"{path}: cannot {doing} — {what}" + (f"; {kept}" if kept else "") + f" ({fix})")

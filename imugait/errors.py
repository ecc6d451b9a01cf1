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

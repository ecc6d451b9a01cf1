"""Typed errors for malformed packets, shared by every wire format.

Every decoder in :mod:`imugait.protocol` (own protocol, Polar PMD, Movesense) raises a
subclass of :class:`PacketError` for bytes it cannot decode — never ``IndexError``,
``struct.error`` or ``ValueError`` from numpy. The acquisition engine catches
``PacketError``, counts it per side and reason, and carries on.

* ``code``    stable machine-readable identifier (class attribute, e.g. ``"too_short"``).
* ``reason``  one human sentence: what is wrong with these bytes.
* ``protocol`` which wire format was being decoded (``"imugait"``, ``"polar"``, ...).
* ``what``    which message (``"data"``, ``"info"``, ``"status"``, ``"control"``, ...).
* ``data``    the offending bytes (kept so a recorder can store them).
"""

from __future__ import annotations

from imugait.errors import ImugaitError


class PacketError(ImugaitError, ValueError):
    """Base class: bytes that are not a valid packet of the expected kind."""

    code = "packet_error"

    def __init__(self, reason: str, *, protocol: str = "imugait", what: str = "", data: bytes | None = None):
        self.reason = str(reason)
        self.protocol = protocol
        self.what = what
        self.data = bytes(data) if data is not None else b""
        where = f"{protocol} {what}".strip()
        super().__init__(f"{where} packet rejected ({self.code}): {self.reason}")

    def __reduce__(self):  # picklable across processes
        return (_rebuild, (type(self), self.reason, self.protocol, self.what, self.data))


def _rebuild(cls, reason, protocol, what, data):
    return cls(reason, protocol=protocol, what=what, data=data)


class TooShort(PacketError):
    """Fewer bytes than the fixed part of the message needs."""

    code = "too_short"


class BadVersion(PacketError):
    """Protocol (major) version this decoder does not understand."""

    code = "bad_version"


class BadHeader(PacketError):
    """Header fields inconsistent in themselves (e.g. header length below the minimum)."""

    code = "bad_header"


class CountMismatch(PacketError):
    """The sample count in the header does not match the payload length."""

    code = "count_mismatch"


class BadChecksum(PacketError):
    """A checksum / CRC does not match (formats that carry one)."""

    code = "bad_checksum"


class UnknownType(PacketError):
    """Unknown message, frame, measurement type or opcode."""

    code = "unknown_type"


class BadValue(PacketError):
    """A field holds a value outside its allowed range (rate 0, side 7, NaN scale...)."""

    code = "bad_value"


class Truncated(PacketError):
    """A compressed or multi-part payload ends in the middle of an element."""

    code = "truncated"


ERROR_TYPES: dict[str, type[PacketError]] = {
    cls.__name__: cls
    for cls in (PacketError, TooShort, BadVersion, BadHeader, CountMismatch, BadChecksum, UnknownType, BadValue, Truncated)
}
"""Class name -> class (golden vectors name the expected error by class name)."""

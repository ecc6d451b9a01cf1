"""Wire formats: pure bytes <-> values (no I/O, no bleak, no clocks).

* :mod:`~imugait.protocol.constants` — UUIDs, opcodes and layouts of the imugait open protocol
  (mirrors ``firmware_protocol/constants.json``).
* :mod:`~imugait.protocol.imu`       — encoder/decoder of the imugait open protocol.
* :mod:`~imugait.protocol.errors`    — :class:`PacketError` and its typed subclasses, shared by
  every wire format (own protocol, Polar PMD, Movesense).
"""

from imugait.protocol.errors import (
    BadChecksum,
    BadHeader,
    BadValue,
    BadVersion,
    CountMismatch,
    PacketError,
    TooShort,
    Truncated,
    UnknownType,
)

__all__ = [
    "PacketError",
    "TooShort",
    "BadVersion",
    "BadHeader",
    "CountMismatch",
    "BadChecksum",
    "UnknownType",
    "BadValue",
    "Truncated",
]

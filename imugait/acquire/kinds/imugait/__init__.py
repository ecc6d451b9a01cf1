"""The imugait open protocol (``firmware_protocol/``): GATT session and engine decoder.
The wire codec stays in :mod:`imugait.protocol.imu` next to the protocol's constants, C header
and golden vectors (``firmware_protocol/`` and its tests use it from there)."""

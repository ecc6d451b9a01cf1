"""Acquisition: where packets arrive and become samples on the session clock.

* ``base``      — the :class:`Source` interface and the events every source emits.
* ``decode``    — packet stream -> :class:`~imugait.types.SampleBlock` with exact
                  loss / duplicate / reorder accounting (:class:`PacketTracker`).
* ``clock``     — device time -> host time per sensor (lower-envelope / convex-hull fit).
* ``simulated`` — in-process virtual sensors (no radio, no D-Bus).
* ``ble``       — real sensors through bleak, with a link supervisor.
"""

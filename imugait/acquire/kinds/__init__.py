"""Sensor kinds, one folder each (wire codec, GATT session, engine decoder together), listed
in the static table :mod:`imugait.acquire.kinds.registry`. See :mod:`.base` for the contract."""

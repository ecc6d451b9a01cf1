"""Movesense (GATT Sensor Data app): :mod:`.wire` codec, :mod:`.session` GATT session, :mod:`.decoder` engine decoder."""

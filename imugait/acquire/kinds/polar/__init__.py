"""Polar Verity Sense (PMD): :mod:`.wire` codec, :mod:`.session` GATT session, :mod:`.decoder` engine decoder."""

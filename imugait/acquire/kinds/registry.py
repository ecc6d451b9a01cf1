"""The sensor kinds imugait reads — a static table (no registration at import time).

``simulated`` is the in-process virtual sensor (:mod:`imugait.sim.source`): it speaks
the imugait open protocol but has no GATT session.
"""

from __future__ import annotations

from imugait.acquire.decode import KindDecoder
from imugait.acquire.kinds.base import SensorKind
from imugait.acquire.kinds.imugait.decoder import ImugaitDecoder
from imugait.acquire.kinds.imugait.session import ImugaitSession
from imugait.acquire.kinds.movesense.decoder import MovesenseDecoder
from imugait.acquire.kinds.movesense.session import DEFAULT_RATE_HZ as MOVESENSE_RATE_HZ
from imugait.acquire.kinds.movesense.session import MovesenseSession
from imugait.acquire.kinds.polar.decoder import PolarDecoder
from imugait.acquire.kinds.polar.session import DEFAULT_RATE_HZ as POLAR_RATE_HZ
from imugait.acquire.kinds.polar.session import PolarSession
from imugait.conventions import Side

KINDS: dict[str, SensorKind] = {
    "imugait": SensorKind("imugait", "imugait open-protocol sensor", ImugaitSession, ImugaitDecoder),
    "polar": SensorKind("polar", "Polar Verity Sense", PolarSession, PolarDecoder,
                        keep_raw=True, default_rate_hz=POLAR_RATE_HZ),
    "movesense": SensorKind("movesense", "Movesense", MovesenseSession, MovesenseDecoder,
                            keep_raw=True, default_rate_hz=MOVESENSE_RATE_HZ),
    "simulated": SensorKind("simulated", "simulated sensor", None, ImugaitDecoder),
}
BLE_KINDS = tuple(k for k, v in KINDS.items() if v.session is not None)


def decoder_kinds() -> list[str]:
    return sorted(KINDS)


def keeps_raw(kind: str) -> bool:
    k = KINDS.get(kind)
    return k is not None and k.keep_raw


def make_decoder(kind: str, side: Side) -> KindDecoder:
    """A fresh decoder for ``kind`` (``KeyError`` for a kind without one, e.g. file imports)."""
    if kind not in KINDS:
        raise KeyError(f"no decoder for sensor kind {kind!r}; known: {decoder_kinds()}")
    return KINDS[kind].decoder(side)

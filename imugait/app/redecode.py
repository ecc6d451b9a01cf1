"""Decode a session again from its raw notifications (``imugait reprocess --redecode``).

A session recorded from a Polar or Movesense sensor keeps every notification (and every
command imugait wrote) with its arrival time (:mod:`imugait.store.raw`), next to the link
events and the sensor information of every connection. :func:`redecode_session` replays
them, in the order the live source delivered them, through the *current* decoders and the
same acquisition engine as a live recording (:class:`~imugait.acquire.engine.Acquisition`:
loss accounting, clock mapping) and writes a new session file — the original is never
modified. The new file keeps the raw notifications too (it can be decoded again) and says
where it came from (``source_json.redecoded_from``).

Replay order per sensor (mirrors :class:`~imugait.acquire.ble.BleSource`, which holds the
packets of a connecting sensor until its ``InfoEvent`` and ``LinkEvent("connected")`` went
out): link events and raw rows by arrival time; raw rows after a ``connecting`` /
``reconnecting`` event wait for the next ``connected``, which is preceded by the sensor
information in force then.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from imugait.events import InfoEvent, LinkEvent, PacketEvent, Sink
from imugait.acquire.base import Source
from imugait.acquire.engine import Acquisition
from imugait.conventions import SIDES, Side
from imugait.errors import ImugaitError
from imugait.store import raw as raw_store
from imugait.store import schema as S
from imugait.store.writer import SessionWriter
from imugait.types import SensorInfo

_META_KEYS = ("subject_id", "condition", "activity", "protocol", "notes", "source")


class NoRawData(ImugaitError):
    """The session holds no raw notifications (not a Polar/Movesense recording, or older imugait)."""


@dataclass(frozen=True)
class _Side:
    infos: list  # (t_host_s, SensorInfo)
    links: list  # LinkEvent
    raw: list  # RawNotification


def _info_from_json(text: str) -> SensorInfo:
    d = json.loads(text)
    return SensorInfo(**{k: d[k] for k in SensorInfo.__dataclass_fields__ if k in d})


def _read_side(g: h5py.Group, side: Side, t0_host_s: float) -> _Side:
    log = g["info_log"]
    infos = [(float(t) + t0_host_s, _info_from_json(j.decode() if isinstance(j, bytes) else j))
             for t, j in zip(log["t_s"][...], log["json"][...])]
    lk = g["link"]
    links = []

    def dec(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    for t, state, reason, intentional in zip(lk["t_host_s"][...], lk["state"][...], lk["reason"][...],
                                             lk["intentional"][...]):
        links.append(LinkEvent(side, dec(state), float(t), reason=dec(reason), intentional=bool(intentional)))
    return _Side(infos, links, raw_store.read(g))


def replay_events(side: Side, data: _Side) -> list:
    """The events of one sensor in the order the live source delivered them (module docstring)."""
    if not data.infos:
        return []
    infos = sorted(data.infos, key=lambda x: x[0])
    items = [(ev.t_host_s, 0, ev) for ev in data.links] + [(r.t_arrival_host_s, 1, r) for r in data.raw]
    items.sort(key=lambda x: (x[0], x[1]))
    out: list = [InfoEvent(side, infos[0][1], infos[0][0])]
    held: list | None = None
    first_connected = True
    for t, _k, item in items:
        if isinstance(item, LinkEvent):
            if item.state in ("connecting", "reconnecting"):
                held = held if held is not None else []
                out.append(item)
            elif item.state == "connected":
                if not first_connected:
                    known = [i for tt, i in infos if tt <= t + 1e-6]
                    out.append(InfoEvent(side, known[-1] if known else infos[0][1], t))
                first_connected = False
                out.append(item)
                out.extend(held or [])
                held = None
            else:
                out.append(item)
            continue
        pe = PacketEvent(side, item.data, item.t_arrival_host_s, item.channel)
        if held is not None:
            held.append(pe)
        else:
            out.append(pe)
    out.extend(held or [])
    return out


class _ReplaySource(Source):
    def __init__(self, events: list, sides: tuple):
        self.events = events
        self.sides = sides

    async def run(self, sink: Sink) -> None:
        for ev in self.events:
            sink(ev)

    async def stop(self) -> None:
        return None


def redecode_session(src, out, *, overwrite: bool = False) -> dict:
    """Decode ``src`` again from its raw notifications into a new session ``out``; returns
    ``{side: samples}``. Raises :class:`NoRawData` when ``src`` has no raw notifications."""
    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise ImugaitError(f"{out}: file exists — choose another name or allow overwriting")
    with h5py.File(src, "r", locking=False) as f:
        if f.attrs.get("format") != S.FORMAT_NAME:
            raise ImugaitError(f"{src}: not an imugait session file")
        t0 = float(f.attrs["t0_host_s"])
        meta = {k: (f.attrs[k].decode() if isinstance(f.attrs.get(k), bytes) else str(f.attrs.get(k, "")))
                for k in _META_KEYS}
        try:
            source_json = json.loads(f.attrs.get("source_json", "{}"))
        except ValueError:
            source_json = {}
        sides = {s: _read_side(f["sensors"][s], s, t0) for s in SIDES if s in f["sensors"]}
    if not any(d.raw for d in sides.values()):
        raise NoRawData(f"{src}: holds no raw notifications to decode again (only Polar and Movesense recordings "
                        "made with imugait 0.5 or newer keep them)")
    events: list = []
    for s, d in sides.items():
        events.extend(replay_events(s, d))
    blocks: dict = {s: [] for s in sides}
    others: list = []
    acq = Acquisition(_ReplaySource(events, tuple(sides)), lambda b, t: blocks[b.side].append((b, np.asarray(t))),
                      others.append, t0_host_s=t0)
    asyncio.run(acq.run())
    source_json = dict(source_json)
    source_json["redecoded_from"] = str(src)
    meta.update(source_json=source_json, t0_host_s=t0)
    # built in memory, written under ``out`` only when complete (a kill leaves the old file or none)
    w = SessionWriter(out, meta, clock=lambda: t0, overwrite=True, in_memory=True)
    for _s, d in sides.items():
        w.add_sensor(sorted(d.infos, key=lambda x: x[0])[0][1], raw=bool(d.raw))
    w.start()
    for s, d in sides.items():
        for r in d.raw:
            w.add_raw(s, r.t_arrival_host_s, r.channel, r.data)
        for b, t in blocks[s]:
            w.append_block(b, t)
    for ev in others:
        w.add_event(ev)
    w.close("re-decoded from raw notifications")
    return {s: int(sum(len(b) for b, _t in blocks[s])) for s in sides}

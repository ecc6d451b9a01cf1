"""``imugait check-sensor``: is this sensor ready to record? One line per finding, one verdict.

Connects to one named sensor with the same source and engine as ``imugait record``
(:class:`~imugait.acquire.ble.BleSource`, :class:`~imugait.acquire.engine.Acquisition`),
reports what it is (model, firmware, battery, the rate and ranges it will use), asks the
user to hold it still for a few seconds and checks, on those samples:

* gravity: the mean acceleration magnitude is 9.81 ± 0.3 m/s² (a wrong unit or scale shows
  here — e.g. 2.45 m/s² is "about 4× too small");
* gyro bias: the mean angular rate at rest is below 3 °/s;
* stillness: acceleration s.d. < 0.3 m/s² and angular rate s.d. < 5 °/s (else the other
  checks are not conclusive — hold it still and run again);
* the real sample rate: samples per second of host time within 3 % of the nominal rate;
* samples lost on the link.

``save`` writes every notification with its arrival time (and the commands written) as JSON
(:func:`save_capture`) — a raw capture that can become a test fixture.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from imugait._version import __version__
from imugait.events import InfoEvent, LinkEvent, PacketEvent
from imugait.acquire.ble import BleSource, SensorSetupError, SensorSpec
from imugait.acquire.engine import Acquisition
from imugait.acquire.kinds.registry import KINDS
from imugait.conventions import GRAVITY_MPS2, Side
from imugait.types import SensorInfo

GRAVITY_TOL_MPS2 = 0.3
GYRO_BIAS_MAX_DPS = 3.0
ACC_STILL_SD_MPS2 = 0.3
GYR_STILL_SD_DPS = 5.0
RATE_TOL = 0.03
SIDE: Side = "left"  # the source needs a side; check-sensor never reports it


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok     ' if self.ok else 'PROBLEM'}  {self.text}"


@dataclass
class CheckResult:
    findings: list = field(default_factory=list)
    info: SensorInfo | None = None
    capture: list = field(default_factory=list)  # PacketEvent

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def verdict(self) -> str:
        bad = [f for f in self.findings if not f.ok]
        if not bad:
            return "VERDICT: ready to record."
        return f"VERDICT: not ready — {len(bad)} problem(s) above; fix them and run `imugait check-sensor` again."


def _gravity_finding(g: float) -> Finding:
    if abs(g - GRAVITY_MPS2) <= GRAVITY_TOL_MPS2:
        return Finding(True, f"gravity reads {g:.2f} m/s² (expected 9.81 ± {GRAVITY_TOL_MPS2})")
    ratio = g / GRAVITY_MPS2
    hint = ""
    if ratio > 0:
        for k in (2, 4, 8, 16, 1000):
            if abs(ratio * k - 1) < 0.1:
                hint = f" — about {k}× too small: a unit or scale problem, not the sensor"
            if abs(ratio / k - 1) < 0.1:
                hint = f" — about {k}× too large: a unit or scale problem, not the sensor"
    return Finding(False, f"gravity reads {g:.2f} m/s² instead of 9.81 ± {GRAVITY_TOL_MPS2}{hint}")


def device_rate_hz(t_dev_s: np.ndarray, index: np.ndarray) -> float:
    """Samples per second of the sensor's own clock: sample-index span over device-time span.

    Not from arrival (host) times: a Polar Verity Sense sends a frame only when it is full
    (#439: up to ~130 samples; #317: every 1–2 s) and the device→host clock fit is still
    settling in the first seconds, so host-time spacing over a 3 s hold is off by up to a
    frame (measured with an independent Verity emulator: 218 Hz for a true 206 Hz)."""
    t = np.asarray(t_dev_s, dtype=np.float64)
    k = np.asarray(index, dtype=np.int64)
    if t.size < 2 or np.any(np.diff(t) <= 0) or np.any(np.diff(k) <= 0):
        return float("nan")  # a reconnect or clock reset inside the window: no device-time rate
    return float((k[-1] - k[0]) / (t[-1] - t[0]))


def analyse_still(t_s: np.ndarray, acc_mps2: np.ndarray, gyr_dps: np.ndarray, nominal_rate_hz: float,
                  loss_pct: float = 0.0, t_dev_s: np.ndarray | None = None,
                  index: np.ndarray | None = None) -> list[Finding]:
    """The findings on a still period (see module docstring). With ``t_dev_s`` and ``index``
    (device time and sample index of each sample) the real rate is the device-clock rate
    (:func:`device_rate_hz`); without them, samples per second of ``t_s``."""
    out: list[Finding] = []
    if len(t_s) < 10:
        return [Finding(False, f"only {len(t_s)} samples arrived while holding still — the sensor is not streaming")]
    acc_sd = float(np.linalg.norm(acc_mps2.std(axis=0)))
    gyr_sd = float(np.linalg.norm(gyr_dps.std(axis=0)))
    still = acc_sd < ACC_STILL_SD_MPS2 and gyr_sd < GYR_STILL_SD_DPS
    if not still:
        out.append(Finding(False, f"the sensor moved (acceleration s.d. {acc_sd:.2f} m/s², angular rate s.d. "
                                  f"{gyr_sd:.1f} °/s) — hold it still on a table and run again"))
    out.append(_gravity_finding(float(np.linalg.norm(acc_mps2, axis=1).mean())))
    bias = gyr_dps.mean(axis=0)
    b = float(np.linalg.norm(bias))
    out.append(Finding(b < GYRO_BIAS_MAX_DPS, f"gyro at rest {b:.2f} °/s (x {bias[0]:+.2f}, y {bias[1]:+.2f}, "
                                              f"z {bias[2]:+.2f}; limit {GYRO_BIAS_MAX_DPS:g})"))
    rate = device_rate_hz(t_dev_s, index) if t_dev_s is not None and index is not None else float("nan")
    clock = "sensor clock"
    if not np.isfinite(rate):
        span = float(t_s[-1] - t_s[0])
        rate = (len(t_s) - 1) / span if span > 0 else float("nan")
        clock = "arrival times"
    ok = np.isfinite(rate) and abs(rate / nominal_rate_hz - 1) <= RATE_TOL
    out.append(Finding(bool(ok), f"real sample rate {rate:.1f} Hz by the {clock} (nominal {nominal_rate_hz:g} Hz, "
                                 f"limit ±{RATE_TOL:.0%})"))
    out.append(Finding(loss_pct < 2.0, f"{loss_pct:.1f} % of samples lost on the link"))
    return out


def save_capture(path, result: CheckResult) -> None:
    """JSON raw capture: every notification (and command written) with its arrival time."""
    info = result.info
    t0 = result.capture[0].t_arrival_host_s if result.capture else 0.0
    doc = {
        "format": "imugait-raw-capture", "version": 1, "imugait_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sensor": info.to_dict() if info is not None else {},
        "notifications": [[round(e.t_arrival_host_s - t0, 6), e.channel, e.data.hex()] for e in result.capture],
    }
    Path(path).write_text(json.dumps(doc, indent=1))


def load_capture(path) -> tuple[dict, list[PacketEvent]]:
    """(sensor dict, PacketEvents with arrival times relative to the first) of a saved capture."""
    doc = json.loads(Path(path).read_text())
    return doc["sensor"], [PacketEvent(SIDE, bytes.fromhex(h), float(t), ch) for t, ch, h in doc["notifications"]]


async def check_sensor(ident: str, *, rate_hz: float | None = None, still_s: float = 3.0,
                       say: Callable[[str], None] = print, scan_timeout_s: float = 15.0) -> CheckResult:
    res = CheckResult()
    blocks: list = []
    links: list = []
    got_info = asyncio.Event()

    def on_event(ev):
        if isinstance(ev, InfoEvent):
            res.info = ev.info
            got_info.set()
        elif isinstance(ev, LinkEvent):
            links.append(ev)

    src = BleSource([SensorSpec(SIDE, ident, rate_hz=rate_hz, show_side=False)], scan_timeout_s=scan_timeout_s,
                    backoff_max_s=1.0)
    acq = Acquisition(src, lambda b, t: blocks.append((np.asarray(t), b)), on_event, on_packet=res.capture.append)
    say(f"Looking for {ident} (wake it: Polar — press its button; Movesense — tap it) …")
    task = asyncio.create_task(acq.run())
    try:
        waiter = asyncio.create_task(got_info.wait())
        await asyncio.wait({task, waiter}, timeout=scan_timeout_s + 30.0, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            exc = task.exception()
            msg = str(exc) if exc is not None else "the sensor disconnected during setup"
            res.findings.append(Finding(False, msg if isinstance(exc, SensorSetupError) else f"cannot use it: {msg}"))
            return res
        if not got_info.is_set():
            res.findings.append(Finding(False, "it did not finish connecting within 45 s"))
            return res
        info = res.info
        assert info is not None  # got_info is set
        dev = src.device_info(SIDE)
        kind = KINDS[info.kind].label if info.kind in KINDS else info.kind
        say(f"found   {info.name or ident} ({info.device_id}): {kind}" + (f", model {dev.model}" if dev.model else ""))
        say(f"        firmware {dev.firmware or 'not reported'}; battery "
            + (f"{dev.battery_pct:.0f} %" if dev.battery_pct is not None else "not reported"))
        say(f"        will record at {info.sample_rate_hz:g} Hz, accelerometer ±{info.acc_range_g:g} g, "
            f"gyroscope ±{info.gyr_range_dps:g} °/s")
        if dev.battery_pct is not None:
            res.findings.append(Finding(dev.battery_pct >= 20, f"battery {dev.battery_pct:.0f} %"
                                        + ("" if dev.battery_pct >= 20 else " — charge it before a run")))
        t_wait = time.monotonic() + 15.0
        while not blocks and time.monotonic() < t_wait and not task.done():
            await asyncio.sleep(0.1)
        if not blocks and task.done() and not task.cancelled() and isinstance(task.exception(), SensorSetupError):
            res.findings.append(Finding(False, str(task.exception())))  # e.g. a sensor that cannot deliver this rate
            return res
        if not blocks:
            why = "; ".join(dict.fromkeys(e.reason for e in links if e.state == "reconnecting" and e.reason)) \
                or "nothing arrived"
            res.findings.append(Finding(False, f"connected, but no samples within 15 s of starting ({why})"))
            return res
        say(f"Hold the sensor still (e.g. flat on a table) for {still_s:g} s …")
        t_from = time.monotonic() + 0.3 - acq.t0_host_s
        t_until = t_from + still_s
        while not task.done() and not (blocks and blocks[-1][0][-1] >= t_until):
            await asyncio.sleep(0.1)
            if time.monotonic() - acq.t0_host_s > t_until + 20.0:
                break
        sel = [(t, b) for t, b in blocks if t[-1] >= t_from and t[0] <= t_until]
        if sel:
            t = np.concatenate([x[0] for x in sel])
            m = (t >= t_from) & (t <= t_until)
            acc = np.concatenate([b.acc_mps2 for _t, b in sel])[m]
            gyr = np.concatenate([b.gyr_dps for _t, b in sel])[m]
            t_dev = np.concatenate([np.asarray(b.t_dev_s, dtype=np.float64) for _t, b in sel])[m]
            index = np.concatenate([b.sample_index for _t, b in sel])[m]
            t = t[m]
        else:
            t, acc, gyr = np.empty(0), np.empty((0, 3)), np.empty((0, 3))
            t_dev = index = None  # type: ignore[assignment]  # analyse_still: no device time
        res.findings.extend(analyse_still(t, acc, gyr, info.sample_rate_hz, _loss_pct(acq, SIDE),
                                          t_dev_s=t_dev, index=index))
        return res
    finally:
        if not task.done():
            await acq.stop()
            try:
                await asyncio.wait_for(task, 10.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - reported above
                pass
        elif not task.cancelled():
            task.exception()  # retrieved (reported as a finding)


def _loss_pct(acq: Acquisition, side: Side) -> float:
    h = acq.health(side)
    return h.loss_pct if h is not None else 0.0

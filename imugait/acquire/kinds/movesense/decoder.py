"""Engine decoder of the Movesense GATT Sensor Data protocol -> SampleBlocks.

Channels (what :class:`~imugait.acquire.kinds.movesense.session.MovesenseSession` enqueues):
``gsp`` (every notification), ``gsp_cmd`` (our SUBSCRIBE / UNSUBSCRIBE writes: they say which
reference carries which resource and rate), ``battery``.

* Parts: DATA + any number of continuation parts per reference (:class:`~.wire.PartAssembler`).
* ``/Meas/IMU6/<rate>``: one block per payload. ``/Meas/Acc/<rate>`` + ``/Meas/Gyro/<rate>``:
  paired sample by sample by device time (:mod:`imugait.acquire.kinds.pairing`). A reference
  never seen in a SUBSCRIBE is read as IMU6 (sessions recorded before the commands were kept).
* Floats are stored as int16 counts at fixed scales (16 g / 32768, 2000 °/s / 32768).
* Index (GSP has no sequence number): per stream from the u32 ms timestamp of the first
  sample; a payload whose first sample is more than half a period later than expected
  advances the index by the missing samples. The index keeps running across reconnects;
  a timestamp that jumps back by more than a second (sensor restarted) starts a new epoch.
"""

from __future__ import annotations

import numpy as np

from imugait.events import PacketEvent, StatusEvent
from imugait.acquire.decode import ClockPoint, DecodedPacket, KindDecoder
from imugait.acquire.kinds.movesense import wire as M
from imugait.acquire.kinds.pairing import TimePairer
from imugait.protocol.errors import PacketError
from imugait.types import SampleBlock, SensorInfo


def _counts(values: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(np.asarray(values, np.float64) / scale), -32768, 32767).astype(np.int16)


class MsTimeline:
    """Device times and sample index of one stream from its u32 ms first-sample timestamps.

    The sample period is learnt from the timestamps (the sensor's own clock): over the
    current run of consecutive notifications, ``(t − t_run_start) / samples since``; a step
    more than 25 % off the nominal period (a lost notification, an outage) is not learnt
    from and starts a new run. Until two notifications are seen the nominal period is used.
    Why: with the nominal period a sensor whose true rate is 3.5 % below nominal had one
    phantom missing sample counted in every 16-sample notification (review of #11,
    independent emulator: 105 "missing" of 2489), and every gap after an outage was
    counted with the nominal period's error.
    """

    def __init__(self, rate_hz: float):
        self.rate_hz = float(rate_hz)
        self.reset()

    def reset(self) -> None:
        self.last_t_ms: float | None = None
        self.last_n = 0
        self.raw_prev: int | None = None
        self.wrap = 0
        self.next_index = 0
        self.missing_samples = 0
        self.period_ms = 1000.0 / self.rate_hz
        self._run: tuple[float, int] | None = None  # (first timestamp, its index) of the current run

    def clock_went_back(self, raw_ms: int) -> bool:
        return self.raw_prev is not None and raw_ms + 1000 < self.raw_prev and self.raw_prev - raw_ms < (1 << 31)

    def place(self, raw_ms: int, n: int) -> tuple[np.ndarray, int]:
        if self.raw_prev is not None and raw_ms < self.raw_prev and self.raw_prev - raw_ms > (1 << 31):
            self.wrap += 1 << 32  # u32 ms wraps after 49.7 days
        self.raw_prev = raw_ms
        t_ms = float(raw_ms + self.wrap)
        nominal_ms = 1000.0 / self.rate_hz
        if self.last_t_ms is not None:
            step = (t_ms - self.last_t_ms) / max(self.last_n, 1)
            if abs(step / nominal_ms - 1.0) <= 0.25 and self._run is not None:
                t_run, k_run = self._run  # consecutive: learn the period over the whole run
                self.period_ms = (t_ms - t_run) / (self.next_index - k_run)
            else:
                expected = self.last_t_ms + self.last_n * self.period_ms
                late = (t_ms - expected) / self.period_ms
                if late > 0.5:
                    skip = int(round(late))
                    self.next_index += skip
                    self.missing_samples += skip
                self._run = None
        first = self.next_index
        if self._run is None:
            self._run = (t_ms, first)
        self.next_index += n
        self.last_t_ms, self.last_n = t_ms, n
        return (t_ms + np.arange(n) * self.period_ms) / 1000.0, first


class MovesenseDecoder(KindDecoder):
    kind = "movesense"
    seq_modulus = None
    index_modulus = None

    def __init__(self, side):
        super().__init__(side)
        self.rate_hz = 104.0
        self.epoch = 0
        self.refs: dict[int, str] = {}
        self.assembler = M.PartAssembler()
        self.timelines: dict[str, MsTimeline] = {}
        self.pairer = TimePairer(self.rate_hz)
        self.results: list[M.CommandResult] = []
        self.bad_payloads = 0

    def set_info(self, info: SensorInfo) -> None:
        super().set_info(info)
        if float(info.sample_rate_hz) != self.rate_hz:
            self.rate_hz = float(info.sample_rate_hz)
            self.timelines.clear()
            self.pairer = TimePairer(self.rate_hz)
            self.epoch += 1

    def reset(self) -> None:
        """Reconnect: parts in flight and half-paired samples are dropped, the subscriptions
        are made again (new ``gsp_cmd``); the timelines continue (exact gap for the outage)."""
        self.assembler.clear()
        self.pairer.clear()

    def _timeline(self, resource: str) -> MsTimeline:
        tl = self.timelines.get(resource)
        if tl is None:
            tl = self.timelines[resource] = MsTimeline(self.rate_hz)
        return tl

    def _block(self, t_dev_s, first, acc_counts, gyr_counts, t_arr, handoff_s=None, clock_point=True) -> DecodedPacket:
        block = SampleBlock(side=self.side, first_index=int(first), t_dev_s=t_dev_s, acc_counts=acc_counts,
                            gyr_counts=gyr_counts, acc_scale_mps2=M.ACC_SCALE_MPS2, gyr_scale_dps=M.GYR_SCALE_DPS,
                            seq=-1, t_arrival_host_s=t_arr, extra={"kind": "movesense"})
        return DecodedPacket(block, None, self.epoch, t_dev_handoff_s=handoff_s, clock_point=clock_point)

    def _payload(self, ref: int, payload: bytes, t_arr: float) -> list:
        resource = self.refs.get(ref, M.RES_IMU6)
        p = M.decode_payload(resource, payload)
        self.assembler.learnt(ref, len(payload))
        tl = self._timeline(resource)
        if tl.clock_went_back(p.timestamp_ms):  # the sensor restarted: new epoch for every stream
            for t in self.timelines.values():
                t.reset()
            self.pairer.clear()
            self.epoch += 1
        t_dev, first = tl.place(p.timestamp_ms, p.n)
        if resource == M.RES_IMU6:
            assert p.acc_mps2 is not None and p.gyr_dps is not None  # IMU6 payloads carry both
            return [self._block(t_dev, first, _counts(p.acc_mps2, M.ACC_SCALE_MPS2),
                                _counts(p.gyr_dps, M.GYR_SCALE_DPS), t_arr)]
        idx = first + np.arange(p.n, dtype=np.int64)
        if resource == M.RES_ACC:
            assert p.acc_mps2 is not None
            self.pairer.add_acc(t_dev, idx, _counts(p.acc_mps2, M.ACC_SCALE_MPS2))
        else:
            assert p.gyr_dps is not None
            self.pairer.add_gyr(t_dev, idx, _counts(p.gyr_dps, M.GYR_SCALE_DPS))
        # clock point: the last sample of the notification that just arrived (sent once its
        # samples are complete), not the end of the paired run it released (see PolarDecoder);
        # every notification gives its point, also one that releases no run yet
        handoff_s = float(t_dev[-1])
        return [self._block(r.t_dev_s, r.first_index, r.acc_counts, r.gyr_counts, t_arr, handoff_s, clock_point=False)
                for r in self.pairer.pop()] + [ClockPoint(handoff_s, self.epoch)]

    def decode(self, event: PacketEvent) -> list:
        ch, b = event.channel, bytes(event.data)
        if ch == "battery":
            return [StatusEvent(self.side, event.t_arrival_host_s, battery_pct=float(b[0]) if b else None)]
        if ch == "gsp_cmd":
            cmd = M.decode_command(b)
            if cmd.op == M.CMD_SUBSCRIBE:
                parsed = M.parse_path(cmd.path)
                if parsed is not None:
                    self.refs[cmd.ref] = parsed[0]
                    self.assembler.learnt(cmd.ref, M.payload_bytes(*parsed))
            return []
        if ch != "gsp":
            return []
        if len(b) < 2:
            raise PacketError("a GSP notification has at least 2 bytes", protocol=M.PROTOCOL, what="notification",
                              data=b)
        if b[0] == M.RESP_COMMAND_RESULT:
            self.results.append(M.parse_result(b))
            return []
        out: list = []
        error: PacketError | None = None
        for ref, payload in self.assembler.feed(b):
            try:
                out += self._payload(ref, payload, event.t_arrival_host_s)
            except PacketError as e:
                self.assembler.forget(ref)
                self.bad_payloads += 1
                error = error or e
        if error is not None and not out:
            raise error
        return out

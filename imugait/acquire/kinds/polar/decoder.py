"""Engine decoder of the Polar Verity Sense: PMD notifications -> paired SampleBlocks.

Channels (what :class:`~imugait.acquire.kinds.polar.session.PolarSession` enqueues):

* ``pmd_data``      ACC / GYRO frames (:func:`~.wire.decode_frame`), any size;
* ``pmd_cp``        control-point replies and device commands — the FACTOR of each START
                    reply (1.0 when it carries none, BlePMDClient.kt:75-82) applies to the
                    frames of that stream until it is stopped (BlePMDClient.kt:309-316);
* ``pmd_cp_write``  our own requests (kept in the raw capture; nothing to decode);
* ``battery``       battery level -> StatusEvent.

Units come from the frame type (:func:`~.wire.frame_units`); samples are stored as int16
counts of the storage scales the session reported (range / 32768). Frames of a stream that
was not started on this connection are counted (``unstarted_frames``) and dropped: their
settings — and so their units — are unknown (a stream another client left running, #186).

Sample index: derived per stream from the timestamps (:class:`~.wire.PmdStreamTimeline`) and
kept across reconnects (the Verity Sense clock keeps running), so an outage is one exact gap;
a clock that jumps back by more than a second (device reset) starts a new epoch
(``boot_id``). ACC and GYRO are paired by device time (:mod:`imugait.acquire.kinds.pairing`).
"""

from __future__ import annotations

import numpy as np

from imugait.events import PacketEvent, StatusEvent
from imugait.acquire.decode import ClockPoint, DecodedPacket, KindDecoder
from imugait.acquire.kinds.pairing import TimePairer
from imugait.acquire.kinds.polar import wire as W
from imugait.conventions import GRAVITY_MPS2
from imugait.types import SampleBlock, SensorInfo


def _counts(values: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(values / scale), -32768, 32767).astype(np.int16)


class PolarDecoder(KindDecoder):
    kind = "polar"
    seq_modulus = None
    index_modulus = None

    def __init__(self, side):
        super().__init__(side)
        self.rate_hz = 52.0
        self.acc_scale_mps2 = 8 * GRAVITY_MPS2 / 32768.0
        self.gyr_scale_dps = 2000 / 32768.0
        self.epoch = 0
        self.unstarted_frames = 0
        self.factors: dict[int, float] = {}
        self._assembler = W.CpReplyAssembler()
        self.timelines = {W.MEAS_ACC: W.PmdStreamTimeline(self.rate_hz), W.MEAS_GYRO: W.PmdStreamTimeline(self.rate_hz)}
        self.pairer = TimePairer(self.rate_hz)

    def set_info(self, info: SensorInfo) -> None:
        super().set_info(info)
        self.acc_scale_mps2 = float(info.acc_scale_mps2)
        self.gyr_scale_dps = float(info.gyr_scale_dps)
        if float(info.sample_rate_hz) != self.rate_hz:
            self.rate_hz = float(info.sample_rate_hz)
            self.timelines = {m: W.PmdStreamTimeline(self.rate_hz) for m in self.timelines}
            self.pairer = TimePairer(self.rate_hz)
            self.epoch += 1

    def reset(self) -> None:
        """Reconnect: the streams are started again (new FACTORs); half-paired samples are
        dropped; the timelines continue (exact gap for the outage)."""
        self.factors.clear()
        self._assembler = W.CpReplyAssembler()
        self.pairer.clear()

    def _on_cp(self, data: bytes) -> None:
        item = W.decode_cp_notification(data)
        if isinstance(item, W.DeviceStop):
            for m in item.measurements:
                self.factors.pop(m, None)
            return
        reply = self._assembler.feed(item)
        if reply is None or reply.measurement not in self.timelines:
            return
        if reply.op == W.OP_START and reply.ok:
            self.factors[reply.measurement] = reply.factor()  # BlePMDClient.kt:309-316, PmdSetting.kt:69-83
        elif reply.op == W.OP_STOP:
            self.factors.pop(reply.measurement, None)

    def decode(self, event: PacketEvent) -> list:
        ch = event.channel
        if ch == "battery":
            return [StatusEvent(self.side, event.t_arrival_host_s,
                                battery_pct=float(event.data[0]) if event.data else None)]
        if ch == "pmd_cp":
            self._on_cp(event.data)
            return []
        if ch != "pmd_data":
            return []
        frame = W.decode_frame(event.data)
        factor = self.factors.get(frame.measurement)
        if factor is None:
            self.unstarted_frames += 1
            return []
        tl = self.timelines[frame.measurement]
        if tl.prev_ts_ns is not None and frame.timestamp_ns + 1e9 < tl.prev_ts_ns:  # device clock went back
            for t in self.timelines.values():
                t.reset()
            self.pairer.clear()
            self.epoch += 1
        phys = W.frame_units(frame, factor)
        t_ns, first = tl.place(frame)
        idx = first + np.arange(frame.n, dtype=np.int64)
        if frame.measurement == W.MEAS_ACC:
            self.pairer.add_acc(t_ns / 1e9, idx, _counts(phys * 1e-3 * GRAVITY_MPS2, self.acc_scale_mps2))
        else:
            self.pairer.add_gyr(t_ns / 1e9, idx, _counts(phys, self.gyr_scale_dps))
        # Clock point: this frame's last sample with this frame's arrival. A frame is sent as
        # soon as it is full (#439), so its timestamp (the last sample's, PmdTimeStampUtils.kt:
        # 33) is its hand-off time. The paired runs released now can end earlier (the other
        # stream's frame ended sooner): pairing their end with this arrival biased the
        # device→host fit late by tens of ms (review of #11: 43 ms against the other leg).
        # Every frame gives its point, also one that releases no run yet (imugait/clock.py, "Bursts").
        handoff_s = float(t_ns[-1]) / 1e9
        out: list[DecodedPacket | ClockPoint] = []
        for run in self.pairer.pop():
            block = SampleBlock(side=self.side, first_index=run.first_index, t_dev_s=run.t_dev_s,
                                acc_counts=run.acc_counts, gyr_counts=run.gyr_counts,
                                acc_scale_mps2=self.acc_scale_mps2, gyr_scale_dps=self.gyr_scale_dps,
                                seq=-1, t_arrival_host_s=event.t_arrival_host_s, extra={"kind": "polar"})
            out.append(DecodedPacket(block, None, self.epoch, t_dev_handoff_s=handoff_s, clock_point=False))
        out.append(ClockPoint(handoff_s, self.epoch))
        return out

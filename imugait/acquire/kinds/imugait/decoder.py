"""Engine decoder of the imugait open protocol (wire codec: :mod:`imugait.protocol.imu`)."""

from __future__ import annotations

import numpy as np

from imugait.events import PacketEvent, StatusEvent
from imugait.acquire.decode import DecodedPacket, KindDecoder, NoInfoYet
from imugait.protocol import constants as C
from imugait.protocol import imu
from imugait.protocol.errors import PacketError
from imugait.types import SampleBlock


class ImugaitDecoder(KindDecoder):
    """The imugait open protocol: channel ``"data"`` (DATA notifications) and
    ``"status"`` (STATUS notifications)."""

    kind = "imugait"
    seq_modulus = C.SEQ_MODULUS
    index_modulus = C.INDEX_MODULUS

    def decode(self, event: PacketEvent) -> list:
        if event.channel == "status":
            st = imu.decode_status(event.data)
            return [
                StatusEvent(
                    side=self.side,
                    t_host_s=event.t_arrival_host_s,
                    battery_pct=st.battery_pct,
                    fifo_overflow=st.fifo_overflow,
                    device_dropped_samples=st.dropped_samples,
                    extra={"boot_id": st.boot_id, "fifo_fill_samples": st.fifo_fill_samples, "streaming": st.streaming,
                           "charging": st.charging, "link_backlog": st.link_backlog, "t_dev_us": st.t_dev_us,
                           "flags": st.flags},
                )
            ]
        if event.channel != "data":
            raise PacketError(f"channel {event.channel!r} is not part of the imugait protocol", what=event.channel,
                              data=event.data)
        p = imu.decode_data(event.data)
        info = self.info
        if info is None:
            raise NoInfoYet("DATA before INFO: sample rate and scale factors unknown", what="data", data=event.data)
        t0 = p.t_dev_us * 1e-6
        t_dev = t0 + np.arange(p.n, dtype=np.float64) / info.sample_rate_hz
        block = SampleBlock(
            side=self.side,
            first_index=p.first_index,
            t_dev_s=t_dev,
            acc_counts=p.acc_counts,
            gyr_counts=p.gyr_counts,
            acc_scale_mps2=info.acc_scale_mps2,
            gyr_scale_dps=info.gyr_scale_dps,
            seq=p.seq,
            t_arrival_host_s=event.t_arrival_host_s,
            extra={"boot_id": p.boot_id, "flags": p.flags, "tx_delay_us": p.tx_delay_us},
        )
        return [DecodedPacket(block, p.seq, p.boot_id, p.overflow_before, clock_usable=not p.is_backlog,
                              t_dev_handoff_s=p.t_handoff_dev_s(info.sample_rate_hz))]



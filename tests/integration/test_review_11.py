"""Regression tests for what the independent review of #11 found (frames built by the
reviewer's encoders in tests/independent_sensors.py, not by imugait's wire code).

1. The device→host clock point of a paired Polar / Movesense block is the arriving frame's
   last sample (its hand-off), not the end of the paired run it released.
2. Movesense: the sample period comes from the sensor's timestamps — a sensor 3.5 % slow
   had a phantom missing sample counted in every notification.
3. check-sensor: the real sample rate by the sensor clock, not by arrival times; messages
   without a leg ("left sensor …") the user never named.
"""

from __future__ import annotations

import struct

import numpy as np
from independent_sensors import (
    GSP_CMD,
    T_ACC,
    T_GYRO,
    IndependentMovesense,
    pmd_delta_frame,
    still_motion,
)

from imugait.events import PacketEvent
from imugait.acquire.check import analyse_still, device_rate_hz
from imugait.acquire.decode import ClockPoint, DecodedPacket
from imugait.acquire.kinds.base import GattSession, SensorSpec
from imugait.acquire.kinds.movesense.decoder import MovesenseDecoder, MsTimeline
from imugait.acquire.kinds.registry import make_decoder
from imugait.types import SensorInfo

G = 9.80665


def _ev(b, ch, t=1.0, side="left"):
    return PacketEvent(side, b, t, ch)


def test_polar_clock_point_is_the_arriving_frames_last_sample():
    dec = make_decoder("polar", "left")
    dec.set_info(SensorInfo("left", "polar", 208.0, 8 * G / 32768, 2000 / 32768, 8, 2000))
    dec.decode(_ev(bytes.fromhex("F00202 0000".replace(" ", "")), "pmd_cp"))  # ACC: no FACTOR (#331)
    dec.decode(_ev(bytes.fromhex("F0020500 00 0501") + struct.pack("<f", 2000 / 32768), "pmd_cp"))
    period_ns = 1e9 / 208
    t0 = 700_000_000_000_000_000
    # GYRO frame of 20 samples ends at sample 19; ACC frame of 50 samples ends at sample 49
    gyr = [(k, -k, 2 * k) for k in range(20)]
    acc = [(10 + k % 3, -5, 1000) for k in range(50)]
    fg = pmd_delta_frame(T_GYRO, 0x80, int(t0 + 19 * period_ns), gyr, [(8, 19)])
    fa = pmd_delta_frame(T_ACC, 0x81, int(t0 + 49 * period_ns), acc, [(3, 49)])
    # nothing to pair yet, but the frame's clock point (its last sample) is given at once
    (cp,) = dec.decode(_ev(fg, "pmd_data", 2.0))
    assert isinstance(cp, ClockPoint) and abs(cp.t_dev_s * 1e9 - (t0 + 19 * period_ns)) < 1e3
    out = dec.decode(_ev(fa, "pmd_data", 2.3))  # the ACC frame releases samples 0..19
    blocks = [p for p in out if isinstance(p, DecodedPacket)]
    assert blocks and not any(p.clock_point for p in blocks)
    assert abs(blocks[-1].block.t_dev_s[-1] * 1e9 - (t0 + 19 * period_ns)) < 1e3
    # the clock point pairs the ACC frame's arrival with the ACC frame's last sample
    assert isinstance(out[-1], ClockPoint) and abs(out[-1].t_dev_s * 1e9 - (t0 + 49 * period_ns)) < 1e3


def _movesense_feed(odr_error: float, drop_every: int = 0):
    m = IndependentMovesense("0C:8C:DC:31:22:07", odr_error=odr_error, burst_hold_s=0.0)
    d = MovesenseDecoder("right")
    d.set_info(SensorInfo("right", "movesense", 208.0, 16 * G / 32768, 2000 / 32768, 16, 2000))
    for ref, path in ((97, b"/Meas/Acc/208"), (98, b"/Meas/Gyro/208")):
        cmd = bytes([1, ref]) + path
        m.write(GSP_CMD, cmd, 0.1)
        d.decode(_ev(cmd, "gsp_cmd", 0.1, "right"))
    packets, nth, dropped = [], 0, 0
    for k in range(1, 300):
        t = 0.1 + 0.03 * k
        for _cu, b in m.poll(t):
            if b[0] == 2 and b[1] == 97:
                nth += 1
            if drop_every and b[1] == 97 and nth % drop_every == 0:
                dropped += b[0] == 2
                continue  # an Acc notification lost on the link (both parts)
            packets += [p for p in d.decode(_ev(b, "gsp", t, "right")) if isinstance(p, DecodedPacket)]
    return m, d, packets, dropped


def test_movesense_slow_sensor_has_no_phantom_gaps():
    m, d, packets, _ = _movesense_feed(-0.035)
    idx = np.concatenate([p.block.sample_index for p in packets])
    t_dev = np.concatenate([p.block.t_dev_s for p in packets])
    assert len(idx) == len(m.truth["Acc"]) > 1000
    assert idx[-1] - idx[0] + 1 == len(idx)  # no sample counted missing
    true_rate = 208 * (1 - 0.035) * (1 - 40e-6)
    assert abs((idx[-1] - idx[0]) / (t_dev[-1] - t_dev[0]) / true_rate - 1) < 0.001


def test_movesense_lost_notification_is_counted_exactly():
    m, d, packets, dropped = _movesense_feed(-0.02, drop_every=7)
    tl = d.timelines["Acc"]
    assert dropped > 3 and tl.missing_samples == 16 * dropped
    assert tl.next_index == len(m.truth["Acc"])  # received + counted missing = what the sensor sampled


def test_ms_timeline_learns_the_period_and_rejects_outliers():
    tl = MsTimeline(104.0)
    period_ms = 1000 / 100.0  # the sensor really runs at 100 Hz
    t, _ = tl.place(5000, 8)
    assert np.allclose(np.diff(t), 1 / 104.0)  # nominal until two notifications are seen
    for k in range(1, 50):
        t, first = tl.place(int(5000 + k * 8 * period_ms), 8)
    assert abs(np.diff(t).mean() - 0.010) < 1e-5 and tl.missing_samples == 0
    t, first = tl.place(int(5000 + 51 * 8 * period_ms), 8)  # one notification lost
    assert tl.missing_samples == 8 and first == 51 * 8


def test_device_rate_from_sensor_clock_not_arrival():
    n = 620
    t_dev = np.arange(n) / 206.1
    idx = np.arange(n) + 1000
    assert abs(device_rate_hz(t_dev, idx) - 206.1) < 1e-6
    # arrival-mapped times compressed by a settling clock fit (measured: 218 Hz for 206 Hz)
    t_host = t_dev * (206.1 / 218.3)
    acc = np.tile([0.0, 0.0, G], (n, 1))
    gyr = np.zeros((n, 3))
    by_host = {f.text.split()[0]: f for f in analyse_still(t_host, acc, gyr, 208.0)}
    by_dev = {f.text.split()[0]: f for f in analyse_still(t_host, acc, gyr, 208.0, t_dev_s=t_dev, index=idx)}
    assert not by_host["real"].ok
    assert by_dev["real"].ok and "206.1 Hz by the sensor clock" in by_dev["real"].text
    # a reconnect inside the window (index jumps back): falls back to arrival times
    assert np.isnan(device_rate_hz(np.r_[t_dev[:10], t_dev[:10]], np.r_[idx[:10], idx[:10]]))


def test_check_sensor_messages_name_no_leg():
    class S(GattSession):
        kind = "x"

        async def setup(self, client):  # pragma: no cover - not called
            raise NotImplementedError

    assert S(SensorSpec("left", "Polar Sense B36E4C2A"), "A0:9E", "Polar Sense B36E4C2A", None).label \
        == "left sensor Polar Sense B36E4C2A"
    assert S(SensorSpec("left", "x", show_side=False), "A0:9E", "Polar Sense B36E4C2A", None).label \
        == "sensor Polar Sense B36E4C2A"


def test_still_motion_helper_is_gravity():
    a, w = still_motion()(np.zeros(3))
    assert np.allclose(np.linalg.norm(a, axis=1), G) and w.shape == (3, 3)


def _ms_session_fed(firmware: str, rate: int):
    from imugait.acquire.kinds.base import SessionHost
    from imugait.acquire.kinds.movesense.session import MovesenseSession, subscriptions_for

    problems = []
    host = SessionHost(lambda *a: None, lambda *a: None, lambda why, fatal: problems.append((why, fatal)))
    ses = MovesenseSession(SensorSpec("right", "Movesense 220330000123", rate_hz=rate), "0C:8C", "Movesense 2203", host)
    ses.subs = subscriptions_for(rate)
    m = IndependentMovesense("0C:8C:DC:31:22:07", firmware=firmware, burst_hold_s=0.0)
    cb = ses._notify_cb()
    for ref, path in ses.subs:
        for _cu, b in m.write(GSP_CMD, bytes([1, ref]) + path.encode(), 0.1):
            cb(None, bytearray(b))
    for k in range(1, 40):
        for _cu, b in m.poll(0.1 + 0.03 * k):
            cb(None, bytearray(b))
    return problems


def test_movesense_cut_payloads_end_the_run_with_a_sentence():
    problems = _ms_session_fed("sample-2.2.1", 416)
    assert problems and problems[0][1] is True
    assert "cut at 306 of 388 bytes" in problems[0][0] and "208 Hz or lower" in problems[0][0]
    assert _ms_session_fed("newer", 416) == []  # DATA_PART3: whole payloads
    assert _ms_session_fed("sample-2.2.1", 208) == []  # Acc + Gyro fit DATA + DATA_PART2


def test_polar_waits_for_the_fullest_frame_a_still_sensor_can_send():
    from independent_sensors import IndependentVerity, _PmdStream

    from imugait.acquire.kinds.base import SessionHost
    from imugait.acquire.kinds.polar.session import PolarSession

    # a noiseless still sensor: 1-bit deltas, frames filled to 229 bytes
    p = IndependentVerity("A0:9E:1A:B3:6E:4C", burst_hold_s=0.0)
    st = _PmdStream(T_ACC, 52, 8, 0.0)
    frames: list = []
    k = 0
    while not frames:
        p._add_sample(st, (0, 0, 1000), 10**15 + k, frames)
        k += 1
    n_first = k - 1
    host = SessionHost(lambda *a: None, lambda *a: None, lambda *a: None)
    for rate in (52, 208):
        ses = PolarSession(SensorSpec("left", "Polar Sense B36E4C2A", rate_hz=rate), "A0:9E", "Polar Sense", host)
        assert ses.first_data_timeout_s > n_first / rate + 1.0, (rate, n_first, ses.first_data_timeout_s)


def _pmd_blocks(frame: bytes) -> list[tuple[int, int]]:
    """(bit width, count) of each delta block of a compressed int16 PMD frame — parsed here
    from the layout (BlePMDClient.kt:580-606), not with imugait's decoder."""
    off, out = 16, []
    while off < len(frame):
        w, n = frame[off], frame[off + 1]
        out.append((w, n))
        off += 2 + (w * n * 3 + 7) // 8
    assert off == len(frame)
    return out


def test_our_polar_emulator_sends_multi_block_frames_and_its_true_rate():
    from imugait.sim.virtual_commercial import MotionSource, VirtualPolarVeritySense

    v = VirtualPolarVeritySense("A0:9E:1A:B3:6E:4C", motion=MotionSource(), rate_error=-0.01)
    for t, req in ((0.0, "0209"), (0.3, "02020001d0000101100002010800040103"),
                   (0.3, "02050001d000010110000201d007040103")):
        assert v.write(v.services()[0].chars[0].uuid, bytes.fromhex(req), t)[0][1][3] == 0
    frames = []
    for k in range(1, 120):
        frames += [d for cu, d in v.poll(0.3 + 0.03 * k) if d[0] == T_ACC]
    assert len(frames) >= 4
    widths = set()
    for fr in frames:
        blocks = _pmd_blocks(fr)
        assert len(blocks) >= 2  # several delta blocks per frame, as real frames (#187)
        widths |= {w for w, _n in blocks}
    assert len(widths) >= 2
    ts = np.array([struct.unpack_from("<Q", fr, 1)[0] for fr in frames], dtype=np.float64)
    n = np.array([1 + sum(c for _w, c in _pmd_blocks(fr)) for fr in frames])
    rate = n[1:].sum() / ((ts[-1] - ts[0]) / 1e9)
    assert abs(rate / (208 * 0.99 * (1 + 25e-6)) - 1) < 1e-3


def test_refusal_sentence_leads_with_what_the_runner_does():
    from imugait.acquire.kinds.base import SessionHost
    from imugait.acquire.kinds.polar import wire as W
    from imugait.acquire.kinds.polar.session import PolarSession

    host = SessionHost(lambda *a: None, lambda *a: None, lambda *a: None)
    ses = PolarSession(SensorSpec("left", "Polar Sense B36E4C2A"), "A0:9E", "Polar Sense B36E4C2A", host)
    r = W.CpReplyAssembler().feed(W.decode_cp_notification(bytes.fromhex("F002090D00")))
    msg = str(ses._refused("SDK mode", r))
    assert msg.startswith("left sensor Polar Sense B36E4C2A: the sensor is on its charger — take it off")
    for st in (4, 5):  # the advice names a command that exists and keeps the bytes exchanged
        assert "check-sensor" in W.status_advice(st) and "--save" in W.status_advice(st)

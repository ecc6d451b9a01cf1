"""Virtual sensor firmware: packets, batching, FIFO, faults, INFO/STATUS/CONTROL."""

import numpy as np
import pytest

from imugait.protocol import constants as C
from imugait.protocol import imu
from imugait.sim.firmware import FirmwareFaults, VirtualSensor, synthetic_side


def _run(vs, t_end, dt=0.05, start_at=0.0):
    out = []
    if start_at is not None:
        r = imu.decode_control_response(vs.write_control(imu.cmd_start(1), start_at))
        assert r.ok
    for t in np.arange(start_at, t_end, dt):
        out += vs.poll_timed(float(t))
    return out


def _data(out):
    return [(t, imu.decode_data(b)) for t, ch, b in out if ch == "data"]


def test_clean_stream_is_contiguous_and_matches_source():
    src = synthetic_side("left", fs_hz=200, duration_s=5, drift_ppm=40, offset_s=50)
    vs = VirtualSensor(src, mtu=185)
    pk = _data(_run(vs, 5.1))
    n = C.samples_per_packet(185, 200, C.DATA_HEADER_EXT_SIZE)
    assert n == 4 and all(p.n == n for _, p in pk)
    idx = np.concatenate([p.sample_index() for _, p in pk])
    np.testing.assert_array_equal(idx, np.arange(len(idx)))
    assert [p.seq for _, p in pk] == list(range(len(pk)))
    assert pk[0][1].is_first and not any(p.is_first for _, p in pk[1:])
    acc = np.concatenate([p.acc_counts for _, p in pk])
    np.testing.assert_array_equal(acc, src.acc_counts[: len(acc)])
    # device time = source device clock (µs rounding), hand-off after the last sample, sent then
    for t_send, p in pk:
        k = p.first_index
        assert abs(p.t_dev_us * 1e-6 - src.t_dev_s[k]) < 1e-6
        # hand-off dithered within one packet interval after the last sample (spec §6)
        assert 0 <= p.tx_delay_us * 1e-6 <= p.n / 200 + 1e-5
        assert src.t_true_s[k + p.n - 1] <= t_send <= src.t_true_s[k + p.n - 1] + p.n / 200 + 1e-9
    assert vs.truth.packets_formed == len(pk)


@pytest.mark.parametrize("mtu,rate,expect", [(185, 200, 4), (247, 800, 16), (35, 200, 1)])
def test_batch_follows_mtu_and_rate(mtu, rate, expect):
    src = synthetic_side("right", fs_hz=800, duration_s=1)
    vs = VirtualSensor(src, mtu=mtu, tx_dither=False)
    r = imu.decode_control_response(vs.write_control(imu.cmd_set_rate(rate), 0.0))
    assert r.ok and r.fields["rate_hz"] == rate
    info = imu.decode_info(vs.read_info())
    assert info.samples_per_packet == expect and info.sample_rate_hz == rate
    assert info.fifo_capacity_s >= C.MIN_FIFO_S
    pk = _data(_run(vs, 0.9))
    assert pk and all(p.n == expect and p.tx_delay_us is None for _, p in pk)
    assert all(len(imu.encode_data(0, 0, 0, p.acc_counts, p.gyr_counts)) <= mtu - 3 for _, p in pk)
    # decimation: every (800/rate)-th source sample
    d = 800 // rate
    np.testing.assert_array_equal(pk[1][1].acc_counts, src.acc_counts[pk[1][1].first_index * d:][::d][:expect])


def test_mtu_too_small_refuses_start():
    vs = VirtualSensor(synthetic_side(duration_s=1), mtu=23)
    r = imu.decode_control_response(vs.write_control(imu.cmd_start(3), 0.0))
    assert r.status_name == "mtu_too_small" and r.token == 3


def test_disconnect_fifo_overflow_and_resend():
    src = synthetic_side("left", fs_hz=200, duration_s=10)
    vs = VirtualSensor(src, mtu=185, fifo_s=2.5, faults=FirmwareFaults(disconnects=((3.0, 6.5),)))
    assert vs.link_up(2.9) and not vs.link_up(3.0) and vs.link_up(6.5)
    out = _run(vs, 10.1)
    pk = _data(out)
    t = vs.truth
    # 3.5 s down, 2.5 s of FIFO: 1 s = 200 samples dropped by overflow
    assert t.samples_dropped_overflow == 200 and t.packets_dropped_overflow == 50 and t.resent_on_reconnect == 1
    backlog = [p for _, p in pk if p.is_backlog]
    assert len(backlog) == 125 + 1  # 2.5 s of 4-sample packets + the resent copy (it waited in the device too)
    ov = [p for _, p in pk if p.overflow_before]
    assert len(ov) == 1 and ov[0].first_index - 200 == max(p.first_index + p.n for _, p in pk if p.first_index < ov[0].first_index and not p.is_backlog)
    # the packet sent just before the link loss is sent again (same seq and index) at reconnect
    keys = [(p.seq, p.first_index) for _, p in pk]
    assert len(keys) - len(set(keys)) == 1
    st = [imu.decode_status(b) for _, ch, b in out if ch == "status"]
    assert any(s.fifo_overflow for s in st) and st[-1].dropped_samples == 200
    # all backlog packets go out at the reconnection time, nothing during the window
    assert not [tt for tt, _ in pk if 3.0 < tt < 6.5]
    dup = [p for _, p in pk if keys.count((p.seq, p.first_index)) == 2]
    assert not dup[0].is_backlog and dup[1].is_backlog  # the original went out live, the copy as BACKLOG


def test_resend_unflagged_when_asked():
    """``resend_backlog_flag=False`` emulates firmware that resends the packet unchanged
    (the host's clock mapper must cope: tests/unit/acquire/test_engine.py)."""
    src = synthetic_side("left", fs_hz=200, duration_s=10)
    vs = VirtualSensor(src, mtu=185, fifo_s=2.5, faults=FirmwareFaults(disconnects=((3.0, 6.5),), resend_backlog_flag=False))
    pk = _data(_run(vs, 10.1))
    assert sum(p.is_backlog for _, p in pk) == 125
    keys = [(p.seq, p.first_index) for _, p in pk]
    dup = [(t, p) for t, p in pk if keys.count((p.seq, p.first_index)) == 2]
    assert len(dup) == 2 and not dup[1][1].is_backlog and dup[1][0] >= 6.5


def test_loss_windows_lose_exactly_the_packets_sent_inside():
    src = synthetic_side("left", fs_hz=200, duration_s=4)
    vs = VirtualSensor(src, mtu=185, faults=FirmwareFaults(loss_windows=((1.0, 1.2),)))
    pk = _data(_run(vs, 4.1))
    assert not [t for t, _ in pk if 1.0 < t <= 1.2]
    assert vs.truth.packets_lost_air == vs.truth.packets_formed - len(pk) >= 9  # 0.2 s of 20-ms packets
    with pytest.raises(ValueError, match="loss window"):
        FirmwareFaults(loss_windows=((2.0, 1.0),))


def test_resent_copy_overflowing_first_is_not_counted_as_dropped():
    """The copy resent after a reconnect sits at the head of a full FIFO; when the host does
    not read at once it is the first to overflow. It is only a copy (the host has the
    original, or the link lost it): ``dropped_samples`` counts only samples the device lost."""
    src = synthetic_side("left", fs_hz=200, duration_s=10)
    vs = VirtualSensor(src, mtu=185, fifo_s=2.5)
    out = _run(vs, 3.0)  # streaming, last packet sent at ~3.0
    n_before = vs.truth.samples_formed
    vs.set_connected(False, 3.0)
    vs.set_connected(True, 6.0)  # 3 s down: 0.5 s of overflow; the resent copy now heads the FIFO
    out += vs.poll_timed(6.2)  # forms 0.2 s more before sending: the copy overflows first
    pk = _data(out)
    t = vs.truth
    assert t.resent_on_reconnect == 1
    keys = [(p.seq, p.first_index) for _, p in pk]
    assert len(keys) == len(set(keys))  # the copy never went out
    idx = np.concatenate([p.sample_index() for _, p in pk])
    missing = int(idx.max() + 1 - len(idx))  # the device's loss: index holes
    assert missing > 0 and t.samples_dropped_overflow == missing
    st = imu.decode_status(vs.read_status(6.2))
    assert st.dropped_samples == missing
    ov = [p for _, p in pk if p.overflow_before]
    assert len(ov) == 1 and t.samples_formed > n_before


def test_reboot_changes_boot_id_and_restarts_counters():
    src = synthetic_side("left", fs_hz=100, duration_s=8, offset_s=20)
    vs = VirtualSensor(src, mtu=247, faults=FirmwareFaults(reboots=(4.0,), boot_s=1.0))
    b0 = vs.boot_id
    out = _run(vs, 5.5)
    assert vs.boot_id != b0 and not vs.streaming
    info = imu.decode_info(vs.read_info(5.5))
    assert info.boot_id == vs.boot_id
    r = imu.decode_control_response(vs.write_control(imu.cmd_start(9), 5.5))
    assert r.ok and r.fields == {"boot_id": vs.boot_id, "next_index": 0}
    for t in np.arange(5.55, 8.0, 0.05):
        out += vs.poll_timed(float(t))
    pk = _data(out)
    after = [p for _, p in pk if p.boot_id == vs.boot_id]
    assert after[0].first_index == 0 and after[0].seq == 0 and after[0].is_first
    assert after[0].t_dev_us < 2_000_000  # device time restarted at the reboot
    assert not [t for t, p in pk if 4.0 <= t < 5.0]  # booting: no link


def test_loss_duplicates_reorder_are_counted_in_truth():
    src = synthetic_side("right", fs_hz=200, duration_s=20)
    vs = VirtualSensor(src, mtu=185, faults=FirmwareFaults(loss_prob=0.05, duplicate_prob=0.03, reorder_prob=0.03, seed=4))
    pk = _data(_run(vs, 20.1))
    t = vs.truth
    assert t.packets_lost_air > 0 and t.duplicates_sent > 0 and t.reordered > 0
    assert len(pk) == t.packets_formed - t.packets_lost_air + t.duplicates_sent
    seqs = [p.seq for _, p in pk]
    assert sum(1 for a, b in zip(seqs, seqs[1:]) if b < a) >= t.reordered - t.packets_lost_air  # out of order arrivals


def test_control_commands():
    vs = VirtualSensor(synthetic_side(duration_s=2, fs_hz=416), mtu=247)
    R = imu.decode_control_response
    r = R(vs.write_control(imu.cmd_time_sync(0xABCDEF01, 4), 1.0))
    assert r.ok and r.fields["nonce"] == 0xABCDEF01 and abs(r.fields["t_dev_us"] * 1e-6 - vs.device_time_s(1.0)) < 1e-6
    r = R(vs.write_control(imu.cmd_set_range(8, 1000), 1.0))
    assert r.ok and r.fields == {"acc_range_g": 8, "gyr_range_dps": 1000}
    info = imu.decode_info(vs.read_info())
    assert info.acc_range_g == 8 and abs(info.acc_scale_mps2 - 8 * 9.80665 / 32768) < 1e-9
    assert R(vs.write_control(imu.cmd_set_side("right"), 1.0)).fields == {"side": "right"}
    assert imu.decode_info(vs.read_info()).side == "right"
    assert R(vs.write_control(imu.cmd_identify(2), 1.0)).ok and vs.identify_until_s == 3.0
    assert R(vs.write_control(imu.cmd_start(), 1.0)).ok
    assert R(vs.write_control(imu.cmd_set_rate(104), 1.1)).status_name == "invalid_state"
    assert R(vs.write_control(b"\x7f\x05", 1.1)).status_name == "unknown_opcode"
    assert R(vs.write_control(bytes([C.OP_SET_RATE, 1, 0]), 1.1)).status_name == "bad_length"
    assert R(vs.write_control(bytes([C.OP_SET_SIDE, 1, 9]), 1.1)).status_name == "bad_value"
    assert R(vs.write_control(imu.cmd_stop(), 1.5)).ok and not vs.streaming
    st = imu.decode_status(vs.read_status(1.6))
    assert not st.streaming and st.battery_pct is not None and st.boot_id == vs.boot_id


def test_with_the_gait_simulator():
    from imugait.sim.gait import SimConfig, simulate

    rec = simulate(SimConfig(gait="run", duration_s=6, fs_hz=200, seed=3, stand_before_s=1, stand_after_s=1))
    side = rec.sides["left"]
    vs = VirtualSensor(side, mtu=247)
    pk = _data(_run(vs, 6.1, start_at=0.0))
    acc = np.concatenate([p.acc_counts for _, p in pk])
    np.testing.assert_array_equal(acc, side.acc_counts[: len(acc)])
    assert len(acc) >= side.n - 8
    info = imu.decode_info(vs.read_info()).to_sensor_info()
    assert info.side == "left" and abs(info.acc_scale_mps2 - side.info.acc_scale_mps2) < 1e-8

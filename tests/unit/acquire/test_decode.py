"""PacketTracker accounting and the decoder registry."""

import numpy as np
import pytest

from imugait.events import PacketEvent, StatusEvent
from imugait.acquire.decode import DecodedPacket, NoInfoYet, PacketTracker
from imugait.acquire.kinds.imugait.decoder import ImugaitDecoder
from imugait.acquire.kinds.registry import KINDS, decoder_kinds, make_decoder
from imugait.protocol import imu
from imugait.protocol.errors import PacketError
from imugait.sim.firmware import FirmwareFaults, VirtualSensor, synthetic_side


def test_in_order_loss_duplicate_reorder_by_hand():
    tr = PacketTracker("left")
    feed = [(0, 0), (1, 4), (3, 12), (2, 8), (2, 8), (5, 20), (6, 24)]  # seq, first_index; n = 4
    res = [tr.observe(7, s, i, 4) for s, i in feed]
    assert [r.status for r in res] == ["new", "new", "new", "late", "duplicate", "new", "new"]
    assert res[2].gap_samples == 4 and res[0].new_epoch and not res[1].new_epoch
    c = tr.counts
    assert (c.received, c.lost, c.duplicated, c.reordered) == (6, 1, 1, 1)
    assert (c.samples_received, c.samples_lost) == (24, 4)
    assert [(g.first_index, g.n_samples, g.reason) for g in tr.gaps()] == [(16, 4, "lost")]
    assert c.loss_pct == pytest.approx(100 * 4 / 28)


def test_wraparound_of_seq_and_index():
    tr = PacketTracker()
    idx = (2**32 - 8) % 2**32
    seq = 65534
    out = []
    for k in range(6):
        if k == 3:
            continue  # lost across the wrap
        out.append(tr.observe(1, (seq + k) % 65536, (idx + 4 * k) % 2**32, 4))
    assert [r.first_index for r in out] == [2**32 - 8, 2**32 - 4, 2**32, 2**32 + 8, 2**32 + 12]
    assert tr.counts.lost == 1 and tr.counts.samples_lost == 4 and tr.counts.duplicated == 0
    assert tr.gaps()[0].first_index == 2**32 + 4


def test_long_outage_beyond_half_the_seq_range():
    tr = PacketTracker()
    tr.observe(1, 10, 0, 4)
    missing = 40000  # packets (> 32768: seq alone is ambiguous, the index decides)
    tr.observe(1, (11 + missing) % 65536, 4 * (1 + missing), 4)
    assert tr.counts.lost == missing and tr.counts.samples_lost == 4 * missing


def test_reboot_starts_new_epoch_and_late_old_packet_is_placed():
    tr = PacketTracker()
    tr.observe(100, 0, 0, 4)
    tr.observe(100, 1, 4, 4)
    r = tr.observe(200, 0, 0, 4)
    assert r.new_epoch and r.epoch == 1 and r.status == "new"
    r = tr.observe(200, 0, 0, 4)
    assert r.status == "duplicate"
    tr.observe(100, 3, 12, 4)  # late packet of the old boot: gap of one packet there
    assert tr.counts.epochs == 2 and tr.counts.lost == 1 and tr.counts.duplicated == 1
    assert tr.epoch == 1 and tr.boot_id == 200
    g = tr.gaps()
    assert len(g) == 1 and g[0].boot_id == 100 and g[0].first_index == 8


def test_overflow_gap_is_flagged_and_late_fill_reduces_loss():
    tr = PacketTracker()
    tr.observe(1, 0, 0, 4)
    tr.observe(1, 5, 20, 4, overflow_before=True)
    assert tr.counts.samples_device_dropped == 16 and tr.gaps()[0].reason == "device_overflow"
    tr.observe(1, 2, 8, 4)  # one of them arrives after all
    assert tr.counts.samples_lost == 12 and tr.counts.samples_device_dropped == 12 and tr.counts.lost == 3
    assert [(g.first_index, g.n_samples) for g in tr.gaps()] == [(4, 4), (12, 8)]


def test_status_count_splits_a_flagged_hole_the_link_made_longer():
    # packet 1 (samples 4-7) lost on the air just before an outage; the FIFO then dropped
    # packets 2-5 (samples 8-23) and packet 6 carries OVERFLOW_BEFORE: one 20-sample hole
    tr = PacketTracker()
    tr.observe(1, 0, 0, 4)
    assert tr.note_device_dropped(1, 3) == 0  # first STATUS: 3 dropped before our first packet
    tr.observe(1, 6, 24, 4, overflow_before=True)
    assert tr.counts.samples_device_dropped == 20  # the flag alone cannot tell
    assert tr.note_device_dropped(1, 3 + 16) == 4  # the device dropped 16: the first 4 were the link's
    assert tr.counts.samples_device_dropped == 16 and tr.counts.samples_lost == 20
    assert [(g.first_index, g.n_samples, g.reason) for g in tr.gaps()] == [(4, 4, "lost"), (8, 16, "device_overflow")]
    assert tr.note_device_dropped(1, 19) == 0  # idempotent
    assert tr.note_device_dropped(2, 100) == 0  # a boot not seen yet: ignored
    assert tr.counts.samples_device_dropped == 16


def test_formats_without_seq_estimate_packets_from_samples():
    tr = PacketTracker(seq_modulus=None, index_modulus=None)
    tr.observe(None, None, 0, 10)
    tr.observe(None, None, 30, 10)
    assert tr.counts.lost == 2 and tr.counts.samples_lost == 20
    tr.observe(None, None, 10, 10)
    assert tr.counts.lost == 1 and tr.counts.reordered == 1


def _reference(arrivals):
    """Independent O(n^2) reference accounting from (boot, seq, index, n) in arrival order."""
    seen, dup, late = {}, 0, 0
    for b, s, i, _n in arrivals:
        got = seen.setdefault(b, {})
        if i in got:
            dup += 1
            continue
        if got and max(got) > i:
            late += 1
        got[i] = s
    lost = 0
    for _b, got in seen.items():
        seqs = sorted(got.values())
        lost += (seqs[-1] - seqs[0] + 1) - len(seqs)
    return dup, late, lost


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tracker_exact_against_firmware_faults(seed):
    src = synthetic_side("left", fs_hz=200, duration_s=30, seed=seed)
    faults = FirmwareFaults(loss_prob=0.03, duplicate_prob=0.02, reorder_prob=0.03, disconnects=((8.0, 12.0),),
                            reboots=(20.0,), seed=seed)
    vs = VirtualSensor(src, mtu=185, faults=faults)
    dec = ImugaitDecoder("left")
    dec.set_info(imu.decode_info(vs.read_info()).to_sensor_info())
    tr = PacketTracker("left", seq_modulus=dec.seq_modulus, index_modulus=dec.index_modulus)
    vs.write_control(imu.cmd_start(), 0.0)
    arrivals = []
    started_again = False
    for t in np.arange(0.0, 30.0, 0.02):
        for ts, ch, b in vs.poll_timed(float(t)):
            for item in dec.decode(PacketEvent("left", b, ts, ch)):
                if isinstance(item, DecodedPacket):
                    blk = item.block
                    tr.observe(item.boot_id, item.seq, blk.first_index, len(blk), overflow_before=item.overflow_before)
                    arrivals.append((item.boot_id, item.seq, blk.first_index, len(blk)))
                elif isinstance(item, StatusEvent):
                    tr.note_device_dropped(item.extra["boot_id"], item.device_dropped_samples)
        if t > 21.5 and not started_again:
            vs.write_control(imu.cmd_start(), float(t))
            started_again = True
    dup, late, lost = _reference(arrivals)
    c = tr.counts
    assert (c.duplicated, c.reordered, c.lost) == (dup, late, lost)
    assert c.received == len({(a[0], a[2]) for a in arrivals})
    # a resent packet may itself be lost on the air
    assert vs.truth.duplicates_sent <= c.duplicated <= vs.truth.duplicates_sent + vs.truth.resent_on_reconnect
    assert c.epochs == 2
    # the STATUS counter keeps packets the link lost next to an overflow out of the device's share
    assert c.samples_device_dropped <= min(c.samples_lost, vs.truth.samples_dropped_overflow)
    # every sample between the first and last received one of each boot is received or in a gap
    for boot in {a[0] for a in arrivals}:
        got = {a[2] for a in arrivals if a[0] == boot}
        span = max(got) + 4 - min(got)
        gaps = sum(g.n_samples for g in tr.gaps() if g.boot_id == boot)
        assert span == 4 * len(got) + gaps


def test_imugait_decoder_blocks_and_status():
    src = synthetic_side("right", fs_hz=100, duration_s=2)
    vs = VirtualSensor(src, mtu=247)
    dec = make_decoder("imugait", "right")
    with pytest.raises(NoInfoYet):
        vs.write_control(imu.cmd_start(), 0.0)
        b = vs.poll(0.5)[0]
        dec.decode(PacketEvent("right", b, 0.5))
    info = imu.decode_info(vs.read_info()).to_sensor_info()
    dec.set_info(info)
    items = [x for t, ch, b in vs.poll_timed(2.0) for x in dec.decode(PacketEvent("right", b, t, ch))]
    blocks = [x for x in items if isinstance(x, DecodedPacket)]
    stats = [x for x in items if isinstance(x, StatusEvent)]
    assert stats and stats[0].battery_pct is not None and stats[0].extra["streaming"]
    p = blocks[0]
    assert p.block.side == "right" and p.block.acc_scale_mps2 == info.acc_scale_mps2
    np.testing.assert_allclose(np.diff(p.block.t_dev_s), 0.01)
    assert p.t_dev_handoff_s >= p.t_dev_last_s and p.t_dev_clock_s == p.t_dev_handoff_s
    np.testing.assert_allclose(p.block.acc_mps2, src.acc_counts[p.block.sample_index] * info.acc_scale_mps2)
    with pytest.raises(PacketError):
        dec.decode(PacketEvent("right", b"\x01\x02", 1.0))
    with pytest.raises(PacketError):
        dec.decode(PacketEvent("right", b"\x01" * 30, 1.0, channel="pmd_acc"))


def test_registry_is_a_static_table():
    assert {"imugait", "simulated", "polar", "movesense"} <= set(decoder_kinds())
    with pytest.raises(KeyError):
        make_decoder("nonexistent", "left")
    for name, kind in KINDS.items():
        d = make_decoder(name, "left")
        assert isinstance(d, kind.decoder) and d.side == "left"
    assert KINDS["polar"].keep_raw and KINDS["movesense"].keep_raw and not KINDS["imugait"].keep_raw


def test_device_overflow_counted_exactly_on_a_clean_link():
    src = synthetic_side("left", fs_hz=200, duration_s=12)
    vs = VirtualSensor(src, mtu=185, faults=FirmwareFaults(disconnects=((2.0, 7.0),)))
    dec = ImugaitDecoder("left")
    dec.set_info(imu.decode_info(vs.read_info()).to_sensor_info())
    tr = PacketTracker("left", seq_modulus=dec.seq_modulus, index_modulus=dec.index_modulus)
    vs.write_control(imu.cmd_start(), 0.0)
    for t in np.arange(0.0, 12.0, 0.05):
        for ts, ch, b in vs.poll_timed(float(t)):
            for it in dec.decode(PacketEvent("left", b, ts, ch)):
                if isinstance(it, DecodedPacket):
                    tr.observe(it.boot_id, it.seq, it.block.first_index, it.n, overflow_before=it.overflow_before)
    c = tr.counts
    assert c.samples_device_dropped == c.samples_lost == vs.truth.samples_dropped_overflow
    assert abs(c.samples_lost - 500) <= 8  # 5 s down, 2.5 s FIFO (+ packets not yet handed off)
    assert c.lost == vs.truth.packets_dropped_overflow and c.duplicated == 1 and c.reordered == 0

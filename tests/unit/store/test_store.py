"""Session files: writer/reader round trip, schema attributes, crash safety, SWMR reading,
write errors and bad input. Real HDF5 files in tmp_path, real subprocesses for crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

import imugait
from imugait.errors import InputFileError
from imugait.store import schema as S
from imugait.store.results import recover_if_interrupted
from imugait.store.reader import open_session
from imugait.store.repair import clear_write_flags, lookup3, read_consistency_flags
from imugait.store.writer import SessionWriter
from imugait.types import SampleBlock, SensorInfo

ACC_SCALE = 9.80665 / 2048
GYR_SCALE = 1 / 16.4


def info(side, rate=200.0):
    return SensorInfo(side=side, kind="simulated", sample_rate_hz=rate, acc_scale_mps2=ACC_SCALE,
                      gyr_scale_dps=GYR_SCALE, firmware="sim-1", device_id=f"SIM-{side}", mounting="lateral")


def block(side, first, n, t0_dev, rng, fs=200.0, seq=0, arrival=float("nan")):
    t = t0_dev + np.arange(n) / fs
    return SampleBlock(side=side, first_index=first, t_dev_s=t,
                       acc_counts=rng.integers(-4000, 4000, (n, 3)).astype(np.int16),
                       gyr_counts=rng.integers(-3000, 3000, (n, 3)).astype(np.int16),
                       acc_scale_mps2=ACC_SCALE, gyr_scale_dps=GYR_SCALE, seq=seq, t_arrival_host_s=arrival)


def test_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "s.h5"
    blocks, times = [], []
    w = SessionWriter(p, meta={"subject_id": "R07", "condition": "pre-stretch", "notes": "ü notes",
                               "source_json": {"sim": {"seed": 3}}})
    w.add_sensor(info("left"))
    w.add_sensor(info("right"))
    first = {"left": 0, "right": 0}
    for i in range(60):
        for side in ("left", "right"):
            n = 8 if i == 13 else int(rng.integers(1, 13))
            b = block(side, first[side], n, 100.0 + first[side] / 200.0 * (1 + 40e-6), rng, seq=i,
                      arrival=1000.0 + i * 0.05)
            if i == 7 and side == "left":  # irregular device time inside a packet -> residuals
                b = SampleBlock(**{**b.__dict__, "t_dev_s": b.t_dev_s + rng.normal(0, 2e-4, n)})
            if i == 11 and side == "right":  # one missing packet
                first[side] += 10
                b = block(side, first[side], n, 100.0 + first[side] / 200.0, rng, seq=i)
            t_s = (b.t_dev_s - 100.0) * (1 - 40e-6) + 0.25
            if i == 13:  # non-linear clock map within a packet -> writer must split it
                t_s = t_s + np.linspace(0, 0.01, n) ** 2
            w.append_block(b, t_s)
            blocks.append(b)
            times.append(t_s)
            first[side] += n
    w.add_marker(3.5, "start intervals")
    w.add_gap("right", 1.0, 1.05, 55, 10, "packet_loss")
    w.add_link_event("left", "connected", w.t0_host_s + 0.1, "initial")
    w.add_status("left", 2.0, battery_pct=87.0)
    w.close("test done")

    with open_session(p) as s:
        assert s.sides == ("left", "right")
        assert s.meta["subject_id"] == "R07" and s.meta["condition"] == "pre-stretch"
        assert s.meta["notes"] == "ü notes" and s.meta["source_info"] == {"sim": {"seed": 3}}
        assert s.meta["schema_version"] == S.SCHEMA_VERSION and s.meta["imugait_version"] == imugait.__version__
        assert s.closed_cleanly and s.meta["stop_reason"] == "test done"
        assert s.sensor_info("left") == info("left")
        for side in ("left", "right"):
            bs = [(b, t) for b, t in zip(blocks, times) if b.side == side]
            r = s.raw(side)
            np.testing.assert_array_equal(r["acc_counts"], np.concatenate([b.acc_counts for b, _ in bs]))
            np.testing.assert_array_equal(r["gyr_counts"], np.concatenate([b.gyr_counts for b, _ in bs]))
            np.testing.assert_array_equal(r["sample_index"], np.concatenate([b.sample_index for b, _ in bs]))
            np.testing.assert_allclose(r["t_dev_s"], np.concatenate([b.t_dev_s for b, _ in bs]), rtol=0, atol=1e-9)
            np.testing.assert_allclose(r["t_s"], np.concatenate([t for _, t in bs]), rtol=0, atol=1.5e-6)
            t, acc, gyr = s.imu(side)
            assert np.all(np.diff(t) > 0)
            np.testing.assert_allclose(acc, r["acc_counts"][np.argsort(r["t_s"], kind="stable")] * ACC_SCALE)
        assert len(s.packets("left")["seq"]) > 60  # the non-linear packet was split, none lost
        assert s.markers.to_dict("list") == {"t_s": [3.5], "text": ["start intervals"]}
        g = s.gaps("right")
        assert g.n_missing.tolist() == [10] and g.reason.tolist() == ["packet_loss"]
        assert s.link_events("left").state.tolist() == ["connected"]
        assert s.status("left").battery_pct.tolist() == [87.0]
        st = s.stats("right")
        assert st["gap_pct"] == pytest.approx(100 * 10 / (st["n_samples"] + 10))
        assert "recording started" in s.log.text.tolist()[0]
        assert s.strides is None and s.summary is None and s.derived_current is False


def test_every_dataset_has_units_description_and_samples_are_compressed(tmp_path):
    p = tmp_path / "s.h5"
    with SessionWriter(p) as w:
        w.add_sensor(info("left"))
        w.append_block(block("left", 0, 50, 0.0, np.random.default_rng(0)), np.arange(50) / 200)
    with h5py.File(p, "r") as f:
        seen = []

        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                seen.append(name)
                assert "units" in obj.attrs, name
                assert obj.attrs["description"], name
                assert obj.maxshape[0] is None and obj.chunks is not None, name
        f.visititems(check)
        assert len(seen) >= 30
        for name in ("acc_counts", "gyr_counts", "t_dev_resid_ns"):
            ds = f["sensors/left"][name]
            assert ds.compression == "gzip" and ds.shuffle
        assert f["sensors/left/acc_counts"].dtype == np.int16


def test_bytes_per_sample_small_for_realistic_signal(tmp_path):
    """Storage with timing stays well under 16 bytes per 6-axis sample (smooth signal + noise)."""
    p = tmp_path / "s.h5"
    rng = np.random.default_rng(0)
    fs, n_total, per = 200.0, 200 * 120, 10
    t = np.arange(n_total) / fs
    acc = (np.stack([np.sin(2 * np.pi * 1.4 * t + k) for k in range(3)], 1) * 3000 + rng.normal(0, 6, (n_total, 3)))
    gyr = (np.stack([np.cos(2 * np.pi * 1.4 * t + k) for k in range(3)], 1) * 2500 + rng.normal(0, 3, (n_total, 3)))
    with SessionWriter(p) as w:
        w.add_sensor(info("left"))
        for i in range(0, n_total, per):
            b = SampleBlock("left", i, 50.0 + t[i:i + per] * (1 + 3e-5), acc[i:i + per].astype(np.int16),
                            gyr[i:i + per].astype(np.int16), ACC_SCALE, GYR_SCALE, seq=i // per,
                            t_arrival_host_s=t[i] + 0.012 + rng.exponential(0.004))
            w.append_block(b, t[i:i + per] + 0.0123)
    size = os.path.getsize(p)
    assert size / n_total < 16, size / n_total


def test_write_after_close_and_undeclared_side_are_errors(tmp_path):
    p = tmp_path / "s.h5"
    w = SessionWriter(p)
    w.add_sensor(info("left"))
    rng = np.random.default_rng(0)
    with pytest.raises(imugait.errors.ImugaitError, match="undeclared sensor 'right'"):
        w.append_block(block("right", 0, 5, 0.0, rng))
    w.append_block(block("left", 0, 5, 0.0, rng))
    with pytest.raises(imugait.errors.ImugaitError, match="after recording started"):
        w.add_sensor(info("right"))
    w.close()
    with pytest.raises(imugait.errors.ImugaitError, match="already closed"):
        w.append_block(block("left", 5, 5, 0.025, rng))
    with pytest.raises(imugait.errors.ImugaitError, match="file exists"):
        SessionWriter(p)


def test_lookup3_matches_hdf5_superblock_checksum(tmp_path):
    p = tmp_path / "x.h5"
    with h5py.File(p, "w", libver="latest") as f:
        f["a"] = 1
    raw = open(p, "rb").read(48)
    assert lookup3(raw[:44]) == int.from_bytes(raw[44:48], "little")
    assert lookup3(b"") == 0xDEADBEEF
    assert read_consistency_flags(p) == 0 and clear_write_flags(p) is False


WRITER_SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np
    from imugait.store.writer import SessionWriter, SessionWriteError
    from imugait.types import SampleBlock, SensorInfo
    import os
    path, fs, per, speed = sys.argv[1], 200.0, 10, float(sys.argv[2])
    reserve = None if sys.argv[3] == "auto" else int(sys.argv[3])
    w = SessionWriter(path, meta={"subject_id": "crash"}, flush_interval_s=0.2, reserve_bytes=reserve)
    for side in ("left", "right"):
        w.add_sensor(SensorInfo(side=side, kind="simulated", sample_rate_hz=fs, acc_scale_mps2=0.0048,
                                gyr_scale_dps=0.061))
    w.start()
    print("started", flush=True)
    rng = np.random.default_rng(0)
    i = 0
    t_start = time.monotonic()
    try:
        while True:
            for side in ("left", "right"):
                t = (i + np.arange(per)) / fs
                w.append_block(SampleBlock(side, i, t, rng.integers(-999, 999, (per, 3)).astype(np.int16),
                                           rng.integers(-999, 999, (per, 3)).astype(np.int16), 0.0048, 0.061,
                                           seq=i // per, t_arrival_host_s=time.monotonic()), t)
            i += per
            lag = (i / fs) / speed - (time.monotonic() - t_start)
            if lag > 0:
                time.sleep(lag)
    except SessionWriteError as e:
        print("ERROR", e, flush=True)
        w.close()
        os._exit(3)  # HDF5 cannot shut down cleanly after a failed write
""")


def _start_writer(path, speed=1.0, preexec=None, reserve="auto"):
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path), str(speed), str(reserve)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    assert proc.stdout.readline().strip() == "started", proc.stderr.read()
    return proc


def test_reader_sees_data_grow_while_writer_runs_then_kill9_keeps_file(tmp_path):
    p = tmp_path / "live.h5"
    proc = _start_writer(p, speed=4.0)
    try:
        time.sleep(0.8)
        with open_session(p) as s:
            n1 = s.stats("left")["n_samples"]
            assert s.recording_active_or_interrupted
            time.sleep(1.0)
            s.refresh()
            n2 = s.stats("left")["n_samples"]
            t, acc, _ = s.imu("right")
            assert len(t) >= n2 - 10 and np.all(np.diff(t) > 0)
        assert n2 > n1 > 0, (n1, n2)
        # a second, fresh reader in another process sees the file too
        r = subprocess.run([sys.executable, "-c",
                            f"import imugait; s = imugait.open_session({str(p)!r}); print(s.stats('left')['n_samples'])"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and int(r.stdout) >= n2, r.stderr
        from imugait.cli.sessions import session_info_text

        text = session_info_text(p)  # `imugait info` on a file being written
        assert "being recorded by" in text and f"pid {proc.pid}" in text and "not analysed yet" in text
        # processing must refuse while the writer is alive
        with pytest.raises(imugait.errors.ImugaitError, match="still being recorded"):
            recover_if_interrupted(p)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert read_consistency_flags(p) != 0  # killed: HDF5 write marks still set
    with open_session(p) as s:  # the writer is gone: the next open recovers the file
        n3 = s.stats("left")["n_samples"]
        assert n3 >= n2 and not s.closed_cleanly
        assert s.writer_state.state == "interrupted" and s.writer_state.marks_cleared
        # wrote at 4x real time with 0.2 s flushes: the kill loses < 1 s of recording time
        assert s.stats("left")["t_last_s"] > 0
    assert read_consistency_flags(p) == 0
    assert recover_if_interrupted(p) is False  # nothing left to do
    with h5py.File(p, "r") as f:  # a plain (non-SWMR) open works again
        assert f.attrs["closed_cleanly"] == np.False_ and "recovered_utc" in f.attrs
    with open_session(p) as s:
        assert s.stats("left")["n_samples"] == n3


def _limit_file_size():
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_disk_nearly_full_stops_cleanly_and_closes_file(tmp_path):
    """The space check sees the file-size limit coming and closes the file properly."""
    p = tmp_path / "full.h5"
    proc = _start_writer(p, speed=50.0, preexec=_limit_file_size)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err)
    assert "recording stopped — disk full" in out and "kept" in out, out
    assert "Traceback" not in err
    with open_session(p) as s:
        assert s.closed_cleanly and "disk full" in s.meta["stop_reason"]
        st = s.stats("left")
        assert st["n_samples"] > 1000
        t, acc, gyr = s.imu("left")
        assert len(t) == st["n_samples"] and np.isfinite(acc).all()


def test_write_error_stops_and_keeps_flushed_data(tmp_path):
    """With the space check off, the real EFBIG error from HDF5 is reported and the file
    on disk still holds everything up to the last flush."""
    p = tmp_path / "full.h5"
    proc = _start_writer(p, speed=50.0, preexec=_limit_file_size, reserve=0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err)
    assert "ERROR" in out and "write failed" in out and "kept" in out, out
    with open_session(p) as s:
        assert not s.closed_cleanly
        st = s.stats("left")
        assert st["n_samples"] > 1000  # most of the 300 kB holds data
        t, acc, gyr = s.imu("left")
        assert len(t) == st["n_samples"] and np.isfinite(acc).all()


# --- bad input --------------------------------------------------------------------------

def _good(tmp_path):
    p = tmp_path / "good.h5"
    with SessionWriter(p) as w:
        w.add_sensor(info("left"))
        w.append_block(block("left", 0, 400, 0.0, np.random.default_rng(0)))
    return p


def bad_files(tmp_path):
    cases = {}
    p = tmp_path / "notes.h5"
    p.write_text("this is not hdf5\n")
    cases["not_hdf5"] = (p, "is not an HDF5 file")
    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    cases["foreign"] = (p, "not an imugait session")
    p = tmp_path / "future.h5"
    good = _good(tmp_path)
    p.write_bytes(good.read_bytes())
    with h5py.File(p, "r+") as f:
        f.attrs["schema_version"] = 99
    cases["newer"] = (p, "schema v99, newer than this imugait reads")
    p = tmp_path / "v0.h5"
    p.write_bytes(good.read_bytes())
    with h5py.File(p, "r+") as f:
        f.attrs["schema_version"] = 0
    cases["unknown_version"] = (p, "uses unknown session schema v0")
    p = tmp_path / "truncated.h5"
    p.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    cases["truncated"] = (p, "truncated")
    p = tmp_path / "missing.h5"
    p.write_bytes(good.read_bytes())
    with h5py.File(p, "r+") as f:
        del f["sensors/left/packets"]
    cases["missing_group"] = (p, "/sensors/left/packets/seq: is missing")
    p = tmp_path / "nosensors.h5"
    p.write_bytes(good.read_bytes())
    with h5py.File(p, "r+") as f:
        del f["sensors"]
    cases["no_sensors"] = (p, "/sensors: is missing")
    cases["absent"] = (tmp_path / "nope.h5", "does not exist")
    return cases


@pytest.mark.parametrize("case", ["not_hdf5", "foreign", "newer", "unknown_version", "truncated", "missing_group",
                                  "no_sensors", "absent"])
def test_bad_input_raises_one_clear_sentence(tmp_path, case):
    path, text = bad_files(tmp_path)[case]
    with pytest.raises(InputFileError) as ei:
        open_session(path)
    msg = str(ei.value)
    assert str(path) in msg and text in msg, msg
    assert "\n" not in msg


def test_open_session_top_level_and_context_manager(tmp_path):
    p = _good(tmp_path)
    with imugait.open_session(p) as s:
        assert s.sides == ("left",)
        assert s.stats("left")["n_samples"] == 400
        assert s.stats("left")["estimated_rate_hz"] == pytest.approx(200.0)
    with pytest.raises(InputFileError, match="no 'right' sensor"):
        imugait.open_session(p).imu("right")
    assert json.loads(h5py.File(p, "r").attrs["sides"]) == ["left"]


def test_stats_count_a_device_reboot_as_a_new_counter_epoch(tmp_path):
    """After a reboot the device's sample counter restarts: gap % and rate stay right."""
    p = tmp_path / "reboot.h5"
    rng = np.random.default_rng(0)
    with SessionWriter(p) as w:
        w.add_sensor(info("left"))
        for i in range(0, 2000, 10):  # 10 s
            w.append_block(block("left", i, 10, 7.0 + i / 200, rng), i / 200 + np.arange(10) / 200)
        # reboot at 10 s, link back at 11 s: counter and device clock restart
        for i in range(0, 1000, 10):
            if 500 <= i < 600:
                continue  # 100 samples lost after the reboot
            b = block("left", i, 10, 0.001 + i / 200, rng)
            b.extra["epoch"] = 1  # the acquisition engine numbers counter epochs
            w.append_block(b, 11.0 + i / 200 + np.arange(10) / 200)
        w.add_link_event("left", "reconnecting", w.t0_host_s + 10.0, "reboot")
    with imugait.open_session(p) as s:
        st = s.stats("left")
        assert st["counter_restarts"] == 1 and st["n_samples"] == 2900
        assert st["gap_pct"] == pytest.approx(100 * 100 / 3000)
        assert st["estimated_rate_hz"] == pytest.approx(200.0, rel=1e-6)
        t, acc, _ = s.imu("left")
        assert len(t) == 2900 and np.all(np.diff(t) > 0)

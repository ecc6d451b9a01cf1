"""ReplaySource: a recorded session played back through the real acquisition engine gives
back the same samples on the same session clock, paced by --speed."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import imugait
from imugait.events import GapEvent, LinkEvent
from imugait.acquire.engine import Acquisition
from imugait.acquire.replay import ReplaySource
from imugait.errors import InputFileError
from imugait.store.writer import SessionWriter
from imugait.types import SampleBlock, SensorInfo


def _session(path, seconds=6.0, fs=100.0, drop=(200, 230)):
    rng = np.random.default_rng(2)
    with SessionWriter(path, {"subject_id": "rp"}) as w:
        for side in ("left", "right"):
            w.add_sensor(SensorInfo(side=side, kind="simulated", sample_rate_hz=fs, acc_scale_mps2=0.0048,
                                    gyr_scale_dps=0.061, device_id=f"D-{side}"))
        w.add_link_event("left", "connecting", w.t0_host_s)
        w.add_link_event("left", "connected", w.t0_host_s)
        n = int(seconds * fs)
        for i in range(0, n, 5):
            for side in ("left", "right"):
                if side == "left" and drop[0] <= i < drop[1]:
                    continue  # packets lost on the left
                t_dev = 50.0 + (i + np.arange(5)) / fs
                w.append_block(SampleBlock(side, i, t_dev, rng.integers(-900, 900, (5, 3)).astype(np.int16),
                                           rng.integers(-900, 900, (5, 3)).astype(np.int16), 0.0048, 0.061,
                                           seq=i // 5), t_dev - 50.0 + 0.02)
        w.add_link_event("left", "reconnecting", w.t0_host_s + 2.0, "link lost")
        w.add_gap("left", (drop[0] - 1) / fs + 0.02, drop[1] / fs + 0.02, drop[0], drop[1] - drop[0], "lost")
        w.add_status("right", 3.0, battery_pct=77.0)
    return path


def _run(src):
    blocks, events = [], []
    acq = Acquisition(src, lambda b, t: blocks.append((b, np.array(t))), events.append)
    t0 = time.monotonic()
    asyncio.run(acq.run())
    return blocks, events, time.monotonic() - t0, acq


def test_replay_reproduces_samples_clock_and_gaps(tmp_path):
    p = _session(tmp_path / "s.h5")
    blocks, events, wall, acq = _run(ReplaySource(p, speed=None))
    with imugait.open_session(p) as s:
        for side in ("left", "right"):
            t, acc, gyr = s.imu(side)
            got = [(b, t_) for b, t_ in blocks if b.side == side]
            np.testing.assert_array_equal(np.concatenate([t_ for _, t_ in got]), t)
            np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b, _ in got]), acc)
    gaps = [e for e in events if isinstance(e, GapEvent)]
    assert [(g.side, g.first_missing_index, g.n_missing) for g in gaps] == [("left", 200, 30)]
    assert acq.health("left").samples_lost == 30 and acq.health("right").samples_lost == 0
    states = [(e.side, e.state) for e in events if isinstance(e, LinkEvent)]
    assert ("left", "reconnecting") in states and states[-1][1] == "stopped"
    assert acq.health("right").battery_pct == 77.0


def test_replay_paces_at_speed(tmp_path):
    p = _session(tmp_path / "s.h5", seconds=6.0)
    src = ReplaySource(p, speed=4.0)
    _blocks, _events, wall, _acq = _run(src)
    span = src.t_last_s - src.t_first_s
    assert wall == pytest.approx(span / 4.0, abs=0.4)


def test_replay_stop_and_missing_side(tmp_path):
    p = _session(tmp_path / "s.h5", seconds=20.0)
    src = ReplaySource(p, speed=1.0, sides=("right",))

    async def go():
        acq = Acquisition(src)
        task = asyncio.create_task(acq.run())
        await asyncio.sleep(0.3)
        await acq.stop()
        await asyncio.wait_for(task, 5)
        return acq

    acq = asyncio.run(go())
    assert 0 < acq.health("right").samples_received < 200
    with pytest.raises(InputFileError, match="has no up sensor|has no"):
        ReplaySource(p, sides=("up",))

"""The one session runner (:class:`imugait.app.run.SessionRun`) and its one rule for waiting
for sensor information, on the real simulated sensors, the real acquisition engine and a
real HDF5 file. A thin wrapper around the simulated source delays or withholds one side's
INFO — what a BLE sensor that connects late (or never answers the info read) does."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from imugait.acquire.base import Source
from imugait.app.run import SessionRun
from imugait.events import InfoEvent, PacketEvent
from imugait.sim.gait import SimConfig
from imugait.sim.source import SimulatedSource
from imugait.store.reader import open_session
from imugait.store.writer import SessionWriter


class LateInfo(Source):
    """The simulated source with the right sensor's INFO held back until ``after_s`` of the
    left sensor's notifications have arrived (None: never sent)."""

    def __init__(self, inner: SimulatedSource, after_s: float | None):
        self.inner = inner
        self.sides = inner.sides
        self.after_s = after_s

    async def run(self, sink) -> None:
        held: list = []
        t_first = None

        def relay(ev) -> None:
            nonlocal t_first
            if isinstance(ev, InfoEvent) and ev.side == "right" and not held:
                held.append(ev)
                return
            if isinstance(ev, PacketEvent) and ev.side == "left":
                t_first = ev.t_arrival_host_s if t_first is None else t_first
                if self.after_s is not None and held and ev.t_arrival_host_s - t_first >= self.after_s:
                    sink(held.pop())
                    held.append(None)  # sent: later INFOs (reconnects) pass
            sink(ev)

        await self.inner.run(relay)

    async def stop(self) -> None:
        await self.inner.stop()


def _sim(duration_s: float, speed: float | None) -> SimulatedSource:
    cfg = SimConfig(gait="run", duration_s=duration_s, stand_after_s=0.0, seed=5)
    return SimulatedSource(cfg, speed=speed, seed=5)


def _run(run: SessionRun, tick_s: float = 0.05) -> None:
    async def main():
        task = asyncio.create_task(run.run())
        while not task.done():
            await asyncio.sleep(tick_s)
            run.tick()
        await task

    asyncio.run(main())


def test_the_file_waits_for_a_late_info_and_loses_no_sample(tmp_path):
    seen = {"left": 0, "right": 0}
    while_waiting = {"left": 0, "right": 0}
    run: SessionRun

    def on_block(block, t_s):
        seen[block.side] += len(block)
        if run.writer is None:
            while_waiting[block.side] += len(block)

    run = SessionRun(LateInfo(_sim(6.0, None), after_s=2.0), on_block=on_block)
    out = tmp_path / "late.h5"
    run.start_recording(lambda infos: SessionWriter(out, {"source": "test"}))
    assert run.waiting_for == ["left", "right"]
    _run(run)
    w = run.finish_recording("source ended")
    assert w is not None and run.error is None
    assert while_waiting["left"] > 350  # ≈ 2 s of the left sensor was held before the file existed
    with open_session(out) as s:
        assert s.sides == ("left", "right")
        for side in ("left", "right"):
            assert s.stats(side)["n_samples"] == seen[side] == run.rec_samples[side]
        t = s.imu("left")[0]
        assert np.all(np.diff(t) > 0)  # held blocks went in first, in order


def test_a_sensor_that_never_sends_info_is_left_out_after_the_wait(tmp_path):
    left_out: list = []
    seen = {"left": 0, "right": 0}

    def on_block(block, t_s):
        seen[block.side] += len(block)

    run = SessionRun(LateInfo(_sim(3.0, 1.0), after_s=None), on_block=on_block, on_left_out=left_out.append,
                     info_wait_s=1.0)
    out = tmp_path / "one.h5"
    t0 = time.monotonic()
    run.start_recording(lambda infos: SessionWriter(out, {"source": "test"}))
    _run(run)
    w = run.finish_recording("source ended")
    assert time.monotonic() - t0 > 1.0
    assert left_out == [["right"]]
    assert w is not None and w.sides == ("left",)
    with open_session(out) as s:
        assert s.sides == ("left",)
        assert s.stats("left")["n_samples"] == seen["left"] > 400  # the first second too


def test_a_recording_started_mid_stream_begins_at_once_and_the_pipelines_run(tmp_path):
    out = tmp_path / "mid.h5"
    started: list = []
    run: SessionRun

    def maybe_start(block, t_s):
        if not run.recording and float(t_s[-1]) > 6.0 and not started:
            run.start_recording(lambda infos: SessionWriter(out, {"source": "test"}))
            started.append(float(t_s[-1]))
            assert run.writer is not None  # every sensor known: no wait

    run = SessionRun(_sim(15.0, None), on_block=maybe_start)
    _run(run)
    w = run.finish_recording("source ended")
    assert w is not None and started
    outs = run.push_pipelines(final=True)
    n_valid = sum(1 for side in outs for o in outs[side] for s in o.strides if s.valid)
    with open_session(out) as s:
        assert s.imu("left")[0][0] >= started[0] - 0.1
        assert s.stats("left")["n_samples"] == run.rec_samples["left"]
    assert n_valid > 0 and set(run.pipelines) == {"left", "right"}

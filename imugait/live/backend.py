"""Acquisition, recording and analysis for the live view, in a worker thread — no Qt here.

Why a worker thread (and not qasync in Qt's thread)
---------------------------------------------------
With qasync, BLE notifications, decoding, HDF5 writes and the pipeline would all run in
the GUI thread: a slow paint, a modal dialog or a 2 s stall in a slot would stall the
recorder too. Here one thread owns its own asyncio loop and runs a
:class:`~imugait.app.run.SessionRun` (the one session runner, shared with ``imugait
record``); in order, for every block: *record* (SessionWriter, under the run's one rule for
waiting for sensor information) → *model* (ring buffers) → *analysis* (the run's per-side
GaitPipeline, in chunks of ``analysis_interval_s``) → *model*. The GUI only reads copies from
:class:`~imugait.live.model.LiveModel` on its timer and sends commands (record, marker,
recalibrate) with :func:`asyncio.run_coroutine_threadsafe`; data never touches a widget
from this thread. The GUI can stall for seconds without losing a packet (tested in
``tests/gui/test_live_app.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as _dt
import logging
import math
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from imugait.acquire.base import Source
from imugait.acquire.engine import Acquisition
from imugait.analysis.pipeline import PipelineOutput
from imugait.app.run import FALLBACK_RATE_HZ, SessionRun
from imugait.events import InfoEvent, LinkEvent
from imugait.conventions import SIDES, Side
from imugait.errors import ImugaitError
from imugait.live.model import LiveModel
from imugait.outputs import safe_name
from imugait.types import SampleBlock
from imugait.analysis.flexor import FlexorAnalyzer, ProtocolRunner, protocol_steps
from imugait.app.session_analysis import analyze_flexor_session
from imugait.store.flexor import write_result
from imugait.store.writer import SessionWriter

log = logging.getLogger(__name__)

SourceFactory = Callable[[], Source]


class LiveBackend:
    """The dashboard's adapter around :class:`~imugait.app.run.SessionRun` (acquisition, the
    recording on demand, the per-side gait pipelines): runs it in a worker thread and feeds
    what it produces to the Qt-free :class:`~imugait.live.model.LiveModel`.

    Parameters
    ----------
    source_factory : builds the :class:`Source` inside the worker thread (sources may bind
        to the running loop).
    model : where results go.
    params : :class:`imugait.analysis.AnalysisParams` (None: defaults).
    out_dir : folder for recordings started from the GUI.
    analysis_interval_s : samples are handed to the pipeline in chunks of this length
        (bounds the analysis cost per packet; adds at most this much display latency).
        0.02 s = every packet of a 200 Hz sensor (4 samples a packet): measured 0.65 % of a
        core per leg for the pipeline, +0.3 % against 40 ms chunks, ≈ 10 ms less latency.
    label : shown in the window title ("simulated", "replay of X.h5", "BLE …").
    """

    def __init__(self, source_factory: SourceFactory, model: LiveModel, *, params=None,
                 out_dir: str | Path = "recordings", analysis_interval_s: float = 0.02,
                 health_interval_s: float = 0.25, label: str = "", meta: dict | None = None):
        self._factory = source_factory
        self.model = model
        self.params = params
        self.out_dir = Path(out_dir)
        self.analysis_interval_s = float(analysis_interval_s)
        self.health_interval_s = float(health_interval_s)
        self.label = label
        self.meta = dict(meta or {})
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._done = threading.Event()
        self.source: Source | None = None
        self.run: SessionRun | None = None
        self.acq: Acquisition | None = None
        self._closing = False
        self._record_at_start: tuple | None = None
        self.n_blocks = {s: 0 for s in SIDES}
        self.n_samples = {s: 0 for s in SIDES}
        self.error: BaseException | None = None
        self._flexor: FlexorAnalyzer | None = None  # while the test mode is on
        self._flexor_proto: ProtocolRunner | None = None
        self._flexor_next_t = -math.inf
        self._flexor_at_start: tuple | None = None
        self._flexor_in_recording = False

    @property
    def rec_samples(self) -> dict:
        """Samples per side written to the current (or last) recording."""
        return self.run.rec_samples if self.run is not None else {}

    # ---- lifecycle (any thread) -------------------------------------------------------
    def start(self) -> "LiveBackend":
        self._thread = threading.Thread(target=self._thread_main, name="imugait-live-acq", daemon=True)
        self._thread.start()
        self._started.wait(10.0)
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the source has ended (replay finished / stopped)."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the source, close any recording and end the worker thread."""
        if self._loop is not None and self.running:
            fut = asyncio.run_coroutine_threadsafe(self._stop_async(), self._loop)
            try:
                fut.result(timeout)
            except Exception:  # noqa: BLE001 - stopping must not raise into the GUI
                log.exception("stopping the source failed")
        if self._thread is not None:
            self._thread.join(timeout)

    def _call(self, coro) -> concurrent.futures.Future:
        if self._loop is None or not self.running:
            coro.close()
            f: concurrent.futures.Future = concurrent.futures.Future()
            f.set_exception(RuntimeError("the acquisition is not running"))
            return f
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    # ---- commands from the GUI (thread-safe, return concurrent Futures) ---------------
    def start_recording(self, subject: str = "", condition: str = "", path: str | Path | None = None,
                        notes: str = "") -> concurrent.futures.Future:
        """Start recording (the Future gives the session path). Called before :meth:`start`,
        the recording starts with the very first sample."""
        if self._thread is None:
            fut: concurrent.futures.Future = concurrent.futures.Future()
            self._record_at_start = ((subject, condition, path, notes), fut)
            return fut
        return self._call(self._start_recording(subject, condition, path, notes))

    def stop_recording(self, reason: str = "user stop") -> concurrent.futures.Future:
        return self._call(self._stop_recording(reason))

    def add_marker(self, text: str) -> concurrent.futures.Future:
        return self._call(self._add_marker(text))

    def recalibrate(self, side: Side | None = None) -> concurrent.futures.Future:
        return self._call(self._recalibrate(side))

    def start_flexor_test(self, steps=None, wait_for_calibration: bool = True) -> concurrent.futures.Future:
        """Start the hip-flexor (Thomas) test mode: from now on both thighs also feed the
        test's analyzer and the protocol prompts run on session time (``steps``: default
        :func:`imugait.analysis.flexor.protocol_steps`). Called before :meth:`start`, the test
        starts with the first sample."""
        if self._thread is None:
            fut: concurrent.futures.Future = concurrent.futures.Future()
            self._flexor_at_start = ((steps, wait_for_calibration), fut)
            return fut
        return self._call(self._start_flexor(steps, wait_for_calibration))

    def stop_flexor_test(self) -> concurrent.futures.Future:
        """End the test mode; the Future gives the result dict (also in the model)."""
        return self._call(self._stop_flexor())

    def next_flexor_step(self) -> concurrent.futures.Future:
        return self._call(self._next_flexor_step())

    # ---- worker thread ----------------------------------------------------------------
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # noqa: BLE001 - reported in the window
            self.error = e
            if isinstance(e, ImugaitError):  # a sentence for the user (no Bluetooth, no sensor): no traceback
                log.error("live acquisition stopped: %s", e)
            else:
                log.exception("live acquisition failed")
            self.model.set_error(f"acquisition stopped: {e}")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._done.set()

    async def _main(self) -> None:
        self._started.set()
        try:
            self.source = self._factory()
            sides = tuple(self.source.sides)
            self.model.set_source(self.label, sides)
            for s in sides:
                self.model.set_link(s, "connecting")
            self.run = SessionRun(self.source, params=self.params, on_block=self._on_block, on_event=self._on_event,
                                  on_write_error=self._on_write_error, on_left_out=self._on_left_out,
                                  on_late_sensor=self._on_late_sensor)
            self.acq = self.run.acq
            self.model.session_t0_host_s = float(self.acq.t0_host_s)
            if self._flexor_at_start is not None:
                args, fut = self._flexor_at_start
                fut.set_result(await self._start_flexor(*args))
            if self._record_at_start is not None:
                args, fut = self._record_at_start
                try:
                    fut.set_result(await self._start_recording(*args))
                except Exception as e:  # noqa: BLE001 - reported through the Future and the window
                    fut.set_exception(e)
                    self.model.set_recording(error=f"recording: {e}")
            health_task = asyncio.ensure_future(self._health_loop())
            try:
                await self.run.run()
            finally:
                health_task.cancel()
            self._flush_pipelines()
            if self._flexor is not None:
                await self._stop_flexor()
            self._update_health()
            for s in sides:
                self.model.set_link(s, "stopped", "source ended")
        finally:
            if self.run is not None and self.run.recording:
                await self._stop_recording("source ended")
            self.model.set_finished(True)

    async def _stop_async(self) -> None:
        if self.acq is not None:
            await self.acq.stop()
        elif self.source is not None:
            await self.source.stop()

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval_s)
            if self.run is not None:
                self.run.tick()  # the run's one rule for waiting for sensor information; the writer's flush
            self._update_health()

    def _update_health(self) -> None:
        if self.acq is None or self.source is None:
            return
        if self.model.session_t0_host_s is None:
            self.model.session_t0_host_s = float(self.acq.t0_host_s)
        for s in self.source.sides:
            h = self.acq.health(s)
            if h is None:  # a side without data yet
                continue
            self.model.set_health(s, h)
            if h.state:
                self.model.set_link(s, str(h.state))

    # sinks of the SessionRun (worker thread, inside the loop; the run has recorded first)
    def _on_event(self, ev) -> None:
        if isinstance(ev, InfoEvent):
            self.model.set_info(ev.side, ev.info)
            if self.run is not None:
                self.run.pipeline(ev.side)  # made now, at the rate the sensor declares
        elif isinstance(ev, LinkEvent):
            self.model.set_link(ev.side, ev.state, ev.reason)

    def _on_write_error(self, e: Exception) -> None:
        log.error("recording failed: %s", e)
        what = "closing the recording failed" if self._closing else "recording failed"
        self.model.set_recording(error=f"{what}: {e}")

    def _on_left_out(self, missing: list) -> None:
        self.model.set_recording(error=f"{', '.join(missing)} sensor sent no INFO: not recorded")

    def _on_late_sensor(self, side: str) -> None:
        self.model.set_recording(error=f"{side} sensor connected after the recording started: "
                                       "not recorded — stop and start a new recording")

    def _on_block(self, block: SampleBlock, t_s: np.ndarray) -> None:
        run = self.run
        assert run is not None
        side = block.side
        # 1. recorded by the run; 2. raw into the model
        acc, gyr = block.acc_mps2, block.gyr_dps
        self.model.push_raw(side, t_s, acc, gyr, block.t_arrival_host_s)
        self.n_blocks[side] += 1
        self.n_samples[side] += len(block)
        # 3. analysis in chunks
        if self._flexor is not None:
            self._flexor_push(side, t_s, acc, gyr)
        p = run.pipelines.get(side)
        info = run.infos.get(side)
        fs = p.fs_hz if p is not None else info.sample_rate_hz if info is not None else FALLBACK_RATE_HZ
        if run.pending_n(side) >= max(1, int(round(fs * self.analysis_interval_s))):
            self._run_pipeline(side)
        if run.recording and run.rec_blocks % 20 == 0:
            self.model.set_recording(n_blocks=run.rec_blocks)

    def _run_pipeline(self, side: Side) -> None:
        run = self.run
        assert run is not None
        n_warn = len(run.warnings)
        self._publish_all(run.push_pipelines(run.take_pending([side])))
        for w in run.warnings[n_warn:]:  # a pipeline that failed is left out; the view and recording go on
            log.warning("%s", w)

    def _publish_all(self, outs: dict) -> None:
        assert self.run is not None
        for side, side_outs in outs.items():
            for out in side_outs:
                self._publish(side, out)
            p = self.run.pipelines.get(side)
            if p is not None and p.calibration is not None:
                self.model.set_calibration(side, p.calibration)

    def _publish(self, side: Side, out: PipelineOutput) -> None:
        if len(out.t_s):
            self.model.push_angle(side, out.t_s, out.thigh_angle_deg)
        if out.events:
            self.model.push_events(side, out.events)
        if out.strides:
            self.model.push_strides(side, out.strides)

    def _flush_pipelines(self) -> None:
        """The end of the source: the rest of every side's samples, and each pipeline flushed."""
        if self.run is not None:
            self._publish_all(self.run.push_pipelines(None, final=True))

    # recording (worker thread)
    def _session_now_s(self) -> float:
        """Session time of "now": the newest sample seen (right for real-time, replayed and
        faster-than-real-time sources alike; lags the wall clock by the packet latency)."""
        t = self.model.t_now_s()
        if math.isfinite(t):
            return t
        t0 = self.model.session_t0_host_s
        return time.monotonic() - t0 if t0 is not None else 0.0

    async def _start_recording(self, subject: str, condition: str, path, notes: str) -> str:
        run = self.run
        assert run is not None
        if run.recording:
            return str(self.model.snapshot(consume=False).recording.get("path"))
        if path is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            name = f"{safe_name(subject or 'subject')}_{safe_name(condition or 'session')}_{stamp}.h5"
            path = self.out_dir / name
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta)
        meta.update(subject_id=subject, condition=condition, notes=notes)
        meta.setdefault("source", self.label)
        meta.setdefault("source_json", {"live": self.label})
        sides = tuple(self.source.sides) if self.source is not None else ()
        if sides:
            meta.setdefault("sides", list(sides))
        t0 = self.model.session_t0_host_s
        if t0 is not None:
            meta.setdefault("t0_host_s", float(t0))
        if self._flexor is not None:
            meta.setdefault("protocol", "modified Thomas test")
            self._flexor_in_recording = True
        run.start_recording(lambda _infos: SessionWriter(path, meta))  # the file: under the run's INFO rule
        t_start = self._session_now_s()
        self.model.set_recording(active=True, path=str(path), n_blocks=0, started_t_s=t_start,
                                 subject=subject, condition=condition, error="")
        return str(path)

    # hip-flexor test mode (worker thread)
    FLEXOR_UPDATE_S = 0.2
    """The test's live state is refreshed every this many seconds of session time."""

    async def _start_flexor(self, steps, wait_for_calibration: bool) -> bool:
        self._flexor = FlexorAnalyzer(source=self.label)
        self._flexor_proto = ProtocolRunner(steps or protocol_steps(), wait_for_calibration=wait_for_calibration)
        self._flexor_next_t = -math.inf
        self._flexor_in_recording = self.run is not None and self.run.recording
        self.model.set_flexor(reset=True, active=True, state=None, step=None, result=None)
        return True

    def _flexor_push(self, side: Side, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        a = self._flexor
        assert a is not None
        a.push(side, t_s, acc, gyr)
        t = float(t_s[-1])
        if t < self._flexor_next_t:
            return
        self._flexor_next_t = t + self.FLEXOR_UPDATE_S
        state = a.update()
        proto = self._flexor_proto
        assert proto is not None
        t_now = self.model.t_now_s()
        for _i, st, t0 in proto.advance(t_now, state.phase not in ("waiting_for_standing", "refused")):
            if self.run is not None:  # the prompts are part of the recording's context
                self.run.add_marker(t0, f"flexor-test: {st.kind}" + (f" {st.side}" if st.side else "")
                                    + f" — {st.prompt}")
        step = None if proto.finished else (proto.index, len(proto.steps), proto.step, proto.time_left(t_now))
        self.model.set_flexor(state=state, step=step, finished=proto.finished)

    async def _next_flexor_step(self) -> None:
        if self._flexor_proto is not None:
            self._flexor_proto.next_step()
            self._flexor_next_t = -math.inf

    async def _stop_flexor(self) -> dict | None:
        a, self._flexor = self._flexor, None
        if a is None:
            return None
        result = a.result().to_dict()
        self.model.set_flexor(active=False, result=result, step=None)
        return result

    async def _stop_recording(self, reason: str = "user stop") -> str | None:
        run = self.run
        if run is None or not run.recording:
            return None
        path = self.model.snapshot(consume=False).recording.get("path")
        self._closing = True
        try:
            run.finish_recording(reason, close_after_error=True)  # writes what is held; errors: _on_write_error
        except Exception as e:  # noqa: BLE001
            log.exception("closing the recording failed")
            self.model.set_recording(error=f"closing the recording failed: {e}")
        finally:
            self._closing = False
            self.model.set_recording(active=False, path=None, last_path=path, n_blocks=run.rec_blocks)
        if path and (self._flexor is not None or self._flexor_in_recording):
            # a hip-flexor test ran while recording: store its result in the session (batch,
            # the same algorithm, on exactly what the file holds)
            self._flexor_in_recording = False
            try:
                res = analyze_flexor_session(path)
                if not res.refused:
                    write_result(path, res)
            except Exception as e:  # noqa: BLE001 - the recording itself is safe; tell the user
                log.exception("storing the flexor test failed")
                self.model.set_recording(error=f"flexor test not stored in the session: {e}")
        return path

    async def _add_marker(self, text: str) -> float:
        t_s = self._session_now_s()
        if self.run is not None:
            self.run.add_marker(t_s, text)
        self.model.add_marker(t_s, text)
        return t_s

    async def _recalibrate(self, side: Side | None) -> None:
        if self.run is None:
            return
        for s in self.run.recalibrate(side):
            p = self.run.pipelines.get(s)
            self.model.clear_side_data(s)
            if p is not None:
                self.model.set_calibration(s, p.calibration)

"""The recording loop behind ``imugait record``: a :class:`~imugait.app.run.SessionRun`
(Source -> Acquisition -> SessionWriter, with its per-side
:class:`~imugait.analysis.GaitPipeline` for the live stride count) run from the first sample.

* The file is created under the run's one rule for waiting for sensor information: when
  every expected sensor has sent its information (simulated: at once; BLE: after
  connecting); what arrives before is held and written then. A sensor that has not
  connected within ``connect_wait_s`` (the run's ``info_wait_s``) is left out (with a warning).
* The writer flushes at least once a second (also when no data comes in).
* Ctrl-C / SIGTERM stop the source intentionally, write what is held, and close the file.
* Polar and Movesense sessions also keep every notification's bytes (``raw/`` group,
  :mod:`imugait.store.raw`) so that ``imugait reprocess --redecode`` can decode them again.
* A write error (disk full, I/O) stops the recording with one message; the file keeps
  everything up to the last flush. Exit codes: 0 ok, 1 write error or a named sensor that
  delivered no samples (the file keeps what the others sent), 130 interrupted before any data.
* The session lock (:class:`~imugait.store.writer.SessionLock`) is taken before the sensors
  are contacted and held until the analysis is stored: ``--overwrite`` of a file another
  program writes is refused at once, and nobody can replace the file between the end of
  the recording and its analysis. If another program replaces or deletes the file anyway
  (``rm``, ``mv``), the writer notices at its next flush, saves the recording under a new
  name and stops; the recorder then never writes into the other file.
* The final line reports what the *file* holds per side — samples, gap percentage, damaged
  or cut-off data — not what the recorder meant to write.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


from imugait.acquire.ble import BleSource
from imugait.app.run import SessionRun
from imugait.app.session_analysis import process_session
from imugait.errors import ImugaitError, file_write_error
from imugait.events import LinkEvent
from imugait.sim.firmware import FirmwareFaults
from imugait.sim.gait import SimConfig
from imugait.sim.source import SimulatedSource
from imugait.store.reader import open_session
from imugait.store.repair import SessionBusyError, SessionLock, busy_sentence, live_writer
from imugait.store.writer import SessionWriter, utc_now_iso


@dataclass
class RecordOptions:
    out: Path
    left: str | None = None
    right: str | None = None
    simulate: bool = False
    duration_s: float | None = None
    meta: dict = field(default_factory=dict)
    rate_hz: float | None = None
    quiet: bool = False
    speed: float | None = 1.0  # None: as fast as the machine goes
    analyze_after: bool = True
    sim: dict = field(default_factory=dict)
    loss_pct: float = 0.0
    connect_wait_s: float = 30.0
    status_interval_s: float = 0.5
    flush_interval_s: float = 0.5
    overwrite: bool = False


SIM_DEFAULT_DURATION_S = 60.0


def _sim_source(opts: RecordOptions):
    sim = dict(opts.sim)
    duration = opts.duration_s if opts.duration_s is not None else SIM_DEFAULT_DURATION_S
    cfg_kw = {k: v for k, v in sim.items() if v is not None}
    cfg_kw["sides"] = tuple(cfg_kw.get("sides") or ("left", "right"))
    # the simulation runs a little longer than asked so the recording ends by --duration
    cfg_kw.update(duration_s=float(duration) + 1.0, stand_after_s=0.0)
    try:
        cfg = SimConfig(**cfg_kw)
    except (TypeError, ValueError) as e:
        raise ImugaitError(f"simulator settings rejected: {e}") from e
    faults = FirmwareFaults(loss_prob=opts.loss_pct / 100.0, seed=int(sim.get("seed", 0))) if opts.loss_pct else None
    src = SimulatedSource(cfg, speed=opts.speed, faults=faults, rate_hz=opts.rate_hz, seed=int(sim.get("seed", 0)))
    meta = {"source": "simulated",
            "source_json": {"simulator": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg_kw.items()},
                            "speed": opts.speed, "loss_pct": opts.loss_pct}}
    return src, meta


def _ble_source(opts: RecordOptions):
    src = BleSource(left=opts.left, right=opts.right, rate_hz=opts.rate_hz)
    return src, {"source": "ble", "source_json": {"left": opts.left, "right": opts.right, "rate_hz": opts.rate_hz}}


class Recorder:
    """``imugait record``'s use of a :class:`~imugait.app.run.SessionRun`: the file from the
    first sample (under the run's one rule for waiting for sensor information), the live
    stride count, the status line and the warnings printed on the terminal."""

    def __init__(self, opts: RecordOptions, source, source_meta: dict):
        self.opts = opts
        self.source = source
        self.meta = dict(opts.meta)
        self.meta.update(source_meta)
        self.run = SessionRun(source, on_event=self.on_event, on_left_out=self.on_left_out,
                              info_wait_s=opts.connect_wait_s)
        self.acq = self.run.acq
        self.expected = self.run.expected
        self.meta["t0_host_s"] = self.acq.t0_host_s
        self.meta["t0_utc"] = utc_now_iso()  # wall clock at session time 0 (the file comes later)
        self.strides: dict = {}
        self.warnings = self.run.warnings
        self.markers_added: list = []
        self.stop_reason = ""
        self.lock = None  # the session lock, taken by run_record before the source starts

    # views of the run
    @property
    def writer(self) -> SessionWriter | None:
        return self.run.writer

    @property
    def infos(self) -> dict:
        return self.run.infos

    @property
    def error(self) -> Exception | None:
        return self.run.error

    @property
    def t_first_s(self) -> float:
        return self.run.t_first_s

    @property
    def t_last_s(self) -> float:
        return self.run.t_last_s

    def start(self) -> None:
        """Record from the first sample (call before the acquisition runs)."""
        self.run.start_recording(self._make_writer)

    def _make_writer(self, infos) -> SessionWriter:
        return SessionWriter(self.opts.out, self.meta, flush_interval_s=self.opts.flush_interval_s,
                             overwrite=self.opts.overwrite, lock=self.lock)

    # -- run callbacks (event-loop thread) ------------------------------------------------
    def on_event(self, ev) -> None:
        if isinstance(ev, LinkEvent) and ev.state == "reconnecting" and "no data" in ev.reason:
            self.warnings.append(ev.reason)
            print(f"\nwarning: {ev.side} {ev.reason}", file=sys.stderr, flush=True)

    def on_left_out(self, missing: list[str]) -> None:
        self.warnings.append(f"{', '.join(missing)} sensor did not connect within "
                             f"{self.opts.connect_wait_s:.0f} s; recording without it")
        print(f"warning: {self.warnings[-1]}", file=sys.stderr, flush=True)

    # -- live strides ---------------------------------------------------------------------
    def take_pipe_chunks(self) -> dict:
        return self.run.take_pending()

    def run_pipelines(self, chunks: dict | None = None, final: bool = False) -> None:
        """Feed buffered samples to the per-side pipelines and count valid strides. Runs in a
        worker thread during the recording (the analysis may take a while when it
        calibrates) so the event loop keeps taking packets; ``chunks`` come from
        :meth:`take_pipe_chunks` (loop thread)."""
        for side, outs in self.run.push_pipelines(chunks, final=final).items():
            self.strides[side] = self.strides.get(side, 0) + sum(1 for o in outs for s in o.strides if s.valid)

    # -- status line ------------------------------------------------------------------------
    def status_line(self) -> str:
        t = self.t_last_s if math.isfinite(self.t_last_s) else 0.0
        parts = [f"{int(t // 60):d}:{t % 60:04.1f}"]
        st = " ".join(f"{s[0].upper()} {self.strides.get(s, 0)}" for s in self.expected)
        parts.append(f"strides {st}")
        loss, bat = [], []
        for s in self.expected:
            h = self.acq.health(s)
            if h is None:  # side not seen yet
                continue
            loss.append(f"{s[0].upper()} {h.loss_pct:.1f}%")
            if h.battery_pct is not None:
                bat.append(f"{s[0].upper()} {h.battery_pct:.0f}%")
            if h.state not in ("connected", "unknown"):
                loss[-1] += f" ({h.state})"
        parts.append("loss " + (" ".join(loss) or "-"))
        parts.append("battery " + (" ".join(bat) or "-"))
        if self.writer is not None:
            try:
                parts.append(f"{os.path.getsize(self.opts.out) / 1e6:.1f} MB")
            except OSError:
                pass
        else:
            waiting = [s for s in self.expected if s not in self.infos]
            parts.append("waiting for " + ", ".join(waiting))
        return " | ".join(parts)


def _watch_stdin_for_markers(loop, rec: Recorder):
    """Every line typed on stdin becomes a marker at the newest sample's session time."""
    try:
        fd = sys.stdin.fileno()
        if not (sys.stdin.isatty() or os.environ.get("IMUGAIT_MARKERS_FROM_STDIN") == "1"):
            return None
    except (AttributeError, OSError, ValueError):
        return None

    def on_line():
        line = sys.stdin.readline()
        if not line:  # EOF
            loop.remove_reader(fd)
            return
        text = line.strip()
        if not text:
            return
        t = rec.t_last_s if math.isfinite(rec.t_last_s) else 0.0
        rec.markers_added.append((t, text))
        rec.run.add_marker(t, text)
        print(f"\nmarker at {t:.1f} s: {text}", file=sys.stderr, flush=True)

    try:
        loop.add_reader(fd, on_line)
    except (NotImplementedError, OSError, ValueError):
        return None
    return fd


def stop_on_signals(loop: asyncio.AbstractEventLoop, request_stop: Callable[[str], None]) -> None:
    """Ctrl-C and SIGTERM end a run cleanly (``request_stop(reason)``) where the loop supports
    signal handlers — the one rule for every command that runs a session."""
    for sig, why in ((signal.SIGINT, "stopped by user (Ctrl-C)"), (signal.SIGTERM, "stopped (SIGTERM)")):
        try:
            loop.add_signal_handler(sig, request_stop, why)
        except (NotImplementedError, RuntimeError):
            pass


async def _main(rec: Recorder) -> None:
    opts = rec.opts
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop(reason):
        if not rec.stop_reason:
            rec.stop_reason = reason
        stop.set()

    stop_on_signals(loop, request_stop)
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="imugait-live-strides")
    pipe_job = None
    rec.start()
    task = asyncio.create_task(rec.run.run())
    stdin_fd = _watch_stdin_for_markers(loop, rec)
    tty = sys.stderr.isatty()
    last_status = 0.0
    last_plain = time.monotonic()
    print(f"recording to {opts.out} (Ctrl-C stops" + ("; type a note + Enter for a marker)" if stdin_fd is not None
                                                     else ")"), file=sys.stderr, flush=True)
    try:
        while not task.done():
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                pass
            if stop.is_set():
                break
            now = time.monotonic()
            rec.run.tick()  # the one rule for waiting for sensor information; the writer's flush
            if rec.error is not None:
                request_stop("write error")
                break
            if opts.duration_s is not None and rec.t_last_s - rec.t_first_s >= opts.duration_s:
                request_stop(f"duration {opts.duration_s:g} s reached")
                break
            if now - last_status >= opts.status_interval_s:
                last_status = now
                if pipe_job is None or pipe_job.done():
                    pipe_job = loop.run_in_executor(pool, rec.run_pipelines, rec.take_pipe_chunks())
                if not opts.quiet:
                    line = rec.status_line()
                    if tty:
                        print("\r" + line.ljust(100), end="", file=sys.stderr, flush=True)
                    elif now - last_plain >= 5.0:
                        last_plain = now
                        print(line, file=sys.stderr, flush=True)
    finally:
        if stdin_fd is not None:
            try:
                loop.remove_reader(stdin_fd)
            except (ValueError, OSError):
                pass
        if pipe_job is not None:
            await asyncio.wait([pipe_job])
        pool.shutdown(wait=True)
        if not task.done():
            await rec.run.stop()
            try:
                await asyncio.wait_for(task, timeout=10.0)
            except asyncio.TimeoutError:
                task.cancel()
        elif (exc := task.exception()) is not None and not rec.stop_reason:
            rec.stop_reason = "source failed"
            raise exc
        if not rec.stop_reason:
            rec.stop_reason = "source ended"
        if tty and not opts.quiet:
            print(file=sys.stderr)


def _file_line(path) -> str:
    """What the closed file holds per side (samples, gaps, damaged or cut-off data)."""
    parts = []
    try:
        with open_session(path) as s:
            for side in s.sides:
                st = s.stats(side)
                text = f"{side} {st['n_samples']} samples"
                if st["n_samples"]:
                    text += f" (gaps {st['gap_pct']:.2f} %"
                    if st["damaged_samples"] or st["cut_samples"]:
                        text += f", {st['damaged_samples'] + st['cut_samples']} unreadable"
                    text += ")"
                parts.append(text)
    except ImugaitError as e:
        return f"the file cannot be read back: {e}"
    return ", ".join(parts)


def _start_lock(opts: RecordOptions):
    """Take the session lock before any sensor is contacted: a file another program writes
    is refused now, not after connecting."""
    out = Path(opts.out)
    if out.is_dir():
        raise ImugaitError(f"{out}: is a folder — give a file name for the session (e.g. run.h5)")
    if out.exists() and not opts.overwrite:
        raise ImugaitError(f"{out}: file exists — choose another --out name, or add --overwrite")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise file_write_error(out, "be created", e, "nothing was recorded") from e
    lock = SessionLock(out, "recorded").acquire()
    if out.exists():
        w = live_writer(out)  # an older imugait, or a writer on another machine
        if w is not None:
            lock.release()
            raise SessionBusyError(busy_sentence(out, {**w, "purpose": "recorded"}))
    return lock


def run_record(opts: RecordOptions, source=None, source_meta: dict | None = None) -> int:
    """Run a recording to the end; returns the process exit code. ``source`` overrides the
    source the options describe (tests, demos: e.g. a BleSource on the emulated BlueZ)."""
    lock = _start_lock(opts)
    try:
        return _run_record(opts, source, source_meta, lock)
    finally:
        lock.release()


def _run_record(opts: RecordOptions, source, source_meta, lock) -> int:
    if source is not None:
        smeta = dict(source_meta or {"source": type(source).__name__})
    else:
        source, smeta = _sim_source(opts) if opts.simulate else _ble_source(opts)
    rec = Recorder(opts, source, smeta)
    rec.lock = lock
    try:
        asyncio.run(_main(rec))
    except BaseException:
        rec.run.write_held()  # what arrived before the failure reaches the file
        raise
    w = rec.run.finish_recording(rec.stop_reason)  # writes what is held, closes the file
    if rec.error is not None:
        print(f"imugait: {rec.error}", file=sys.stderr, flush=True)
        if w is not None and w.failed:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)  # HDF5 cannot shut down cleanly after a failed write; the file is safe
        return 1  # e.g. our file was replaced: the recording is saved elsewhere; HDF5 is fine
    if w is None:
        print("imugait: no sensor sent data; nothing recorded", file=sys.stderr)
        return 130 if "user" in rec.stop_reason else 1
    rec.run_pipelines(final=True)
    silent = [s for s in rec.expected if s not in w.sides or w.n_samples(s) == 0]
    if silent:  # a named sensor delivered nothing: never a success line and exit 0
        counts = ", ".join(f"{s} {w.n_samples(s)} samples" for s in w.sides)
        why = "; ".join(dict.fromkeys(rec.warnings)) or "it never connected or never streamed"
        print(f"imugait: the {' and '.join(silent)} sensor delivered no samples ({why}); {opts.out} keeps what "
              f"arrived ({counts}) — check the sensor with `imugait check-sensor`, then record again",
              file=sys.stderr, flush=True)
        return 1
    print(f"{opts.out}: {rec.stop_reason}; {_file_line(opts.out)}"
          + f"; strides (live) {', '.join(f'{s} {n}' for s, n in rec.strides.items()) or 'none'}")
    if opts.analyze_after:

        try:
            run_id = process_session(opts.out, expect_uuid=w.session_uuid, lock=rec.lock)
            print(f"{opts.out}: analysed ({run_id}); see `imugait info {opts.out}`")
        except ImugaitError as e:
            print(f"imugait: analysis failed: {e}", file=sys.stderr)
    return 0

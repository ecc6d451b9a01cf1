"""``imugait flexor-test`` — the modified Thomas test (hip-flexor length) with the thigh sensors.

Three ways in, one algorithm (:mod:`imugait.analysis.flexor`):

* **guided, real sensors** — ``--left ADDR --right ADDR``: connects, records a session and
  leads the runner through the protocol with terminal prompts and countdowns;
* **guided, simulated** — ``--simulate``: the same, with a simulated runner who follows the
  prompts (:mod:`imugait.sim.flexor`) streamed through the virtual sensor firmware;
* **on a recording** — ``SESSION.h5`` or ``--left L.csv --right R.csv`` (CSV import format).

Writes ``--out DIR/flexor_test.json``, prints a one-line verdict, and stores the result in
the session (``/flexor_test``; raw data untouched).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

import imugait.outputs as outputs
from imugait.analysis.flexor import (
    FlexorAnalyzer, FlexorLiveState, FlexorResult, FlexorTestRefused, ProtocolRunner, Step, analyze_flexor,
    protocol_steps,
)
from imugait.conventions import SIDES
from imugait.errors import ImugaitError, InputFileError

if TYPE_CHECKING:
    from imugait.acquire.base import Source


# --------------------------------------------------------------------------- guided run
class GuidedTest:
    """Source -> Acquisition -> SessionWriter (the recorder's glue, raw data first) plus the
    streaming test analyzer, with prompts timed on session time (so a simulated runner can
    run faster than real time)."""

    def __init__(self, source, source_meta: dict, session: Path, steps: list[Step], meta: dict,
                 echo=None, tty: bool | None = None, wait_for_calibration: bool = True, tick_s: float = 0.1):
        from imugait.app.record import Recorder, RecordOptions

        self.steps = steps
        self.echo = echo or (lambda s: click.echo(s, err=True))
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.opts = RecordOptions(out=Path(session), meta=meta, flush_interval_s=0.5, quiet=True, analyze_after=False)
        self.rec = Recorder(self.opts, source, source_meta)
        self.analyzer = FlexorAnalyzer(source=str(session))
        self.state: FlexorLiveState | None = None
        self.proto = ProtocolRunner(steps, wait_for_calibration=wait_for_calibration)
        self.stop_reason = ""
        self.tick_s = float(tick_s)

    def _feed(self) -> None:
        for side, parts in self.rec.take_pipe_chunks().items():
            for t, acc, gyr in parts:
                self.analyzer.push(side, t, acc, gyr)
        self.state = self.analyzer.update()

    def _marker(self, t_s: float, text: str) -> None:
        self.rec.run.add_marker(t_s, text)

    def _status(self, t: float) -> str:
        st = self.state
        left = self.proto.time_left(t)
        parts = [f"  {max(0.0, left):4.1f} s"]
        if st is not None and st.phase == "waiting_for_standing":
            parts.append("calibrating — stand still")
        elif st is not None:
            for s in SIDES:
                e = st.elev_deg.get(s)
                if e is not None:
                    parts.append(f"{s[0].upper()} {abs(e):4.1f}° {'below' if e >= 0 else 'above'}")
            if st.hold_side is not None and st.phase == "hold":
                parts.append(f"hold {st.hold_side} {st.hold_elapsed_s:4.1f} s")
        return " · ".join(parts)

    def _advance(self) -> bool:
        """Show prompts and countdowns; False when the protocol is over."""
        t = self.rec.t_last_s
        if not math.isfinite(t):
            return True
        calibrated = self.state is not None and self.state.phase not in ("waiting_for_standing", "refused")
        prev = self.proto.step
        for i, step, t0 in self.proto.advance(t, calibrated, self.rec.t_first_s):
            if prev is not None:
                self._step_done(prev)
            prev = step
            if self.tty:
                sys.stderr.write("\n")
            self.echo(f"[{i + 1}/{len(self.steps)}] {step.prompt}")
            self._marker(t0, f"flexor-test: {step.kind}" + (f" {step.side}" if step.side else "") + f" — {step.prompt}")
        if self.proto.finished:
            if prev is not None and prev is not self.proto.step:
                self._step_done(prev)
            return False
        if self.tty:
            sys.stderr.write("\r" + self._status(t).ljust(78))
            sys.stderr.flush()
        return True

    def _step_done(self, step: Step) -> None:
        """After a hold: what the sensors saw (provisional; the final result comes from the
        whole recording)."""
        st = self.state
        if step.kind == "stand" and st is not None and st.phase == "waiting_for_standing":
            self.echo("  no standing calibration yet — the result will be refused without one")
        if step.kind != "hold" or st is None:
            return
        mine = [h for h in st.holds if h.side == step.side and h.end_s > self.rec.t_last_s - step.duration_s - 1.0]
        if st.phase == "hold" and st.hold_side == step.side and st.hold_value_deg is not None:
            v = st.hold_value_deg
            self.echo(f"  {step.side} thigh {abs(v):.1f}° {'below' if v >= 0 else 'above'} horizontal")
        elif mine:
            v = mine[-1].value
            self.echo(f"  {step.side} thigh {abs(v):.1f}° {'below' if v >= 0 else 'above'} horizontal")
        else:
            self.echo(f"  no hold seen: was the {step.side} leg hanging still, the other knee hugged?")

    async def run(self) -> None:
        rec = self.rec
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def request_stop(reason):
            self.stop_reason = self.stop_reason or reason
            stop.set()

        from imugait.app.record import stop_on_signals

        stop_on_signals(loop, request_stop)
        rec.start()
        task = asyncio.create_task(rec.run.run())
        try:
            while not task.done():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.tick_s)
                except asyncio.TimeoutError:
                    pass
                if stop.is_set():
                    break
                if rec.run.info_wait_over():  # the run's one rule for waiting for sensor information
                    request_stop(f"{', '.join(rec.run.waiting_for)} sensor did not connect")
                    break
                rec.run.flush()
                if rec.error is not None:
                    request_stop("write error")
                    break
                self._feed()
                if not self._advance():
                    request_stop("protocol finished")
                    break
            if task.done() and not stop.is_set():
                self._feed()  # what arrived with the end of the stream
                self._advance()
        finally:
            if self.tty:
                sys.stderr.write("\n")
            if not task.done():
                await rec.run.stop()
                try:
                    await asyncio.wait_for(task, timeout=10.0)
                except asyncio.TimeoutError:
                    task.cancel()
            elif (exc := task.exception()) is not None:
                raise exc
            self.stop_reason = self.stop_reason or "source ended"

    def close(self) -> Path:
        rec = self.rec
        if rec.error is not None:
            raise ImugaitError(f"the recording failed: {rec.error}")
        w = rec.run.finish_recording(self.stop_reason)  # writes what is held, closes the file
        if rec.error is not None:
            raise ImugaitError(f"the recording failed: {rec.error}")
        if w is None:
            raise ImugaitError("no sensor sent data; nothing recorded")
        return self.opts.out


def run_guided(source, source_meta: dict, session: Path, steps: list[Step], meta: dict,
               simulated_speed: float | None = None) -> Path:
    """Run the guided test to the end; returns the session path. ``simulated_speed``: a
    simulated runner follows the script at this speed (prompts do not wait for him)."""
    sim = simulated_speed is not None
    g = GuidedTest(source, source_meta, session, steps, meta, wait_for_calibration=not sim,
                   tick_s=0.1 / simulated_speed if simulated_speed else 0.1)
    asyncio.run(g.run())
    return g.close()


# --------------------------------------------------------------------------- output
def write_json(result: FlexorResult, out: Path, extra: dict | None = None) -> Path:
    """``OUT/flexor_test.json`` (or ``out`` itself when it names a .json file), atomically."""
    path = out if out.suffix.lower() == ".json" else out / "flexor_test.json"
    outputs.out_dir(path.parent)
    d = result.to_dict()
    if extra:
        d.update(extra)
    return outputs.write_text(path, json.dumps(d, indent=2, allow_nan=False))


def report_lines(result: FlexorResult) -> list[str]:
    lines = []
    if not result.refused:
        for s in SIDES:
            for h in result.side_holds(s):
                flags = f"  [{', '.join(h.flags)}]" if h.flags else ""
                lines.append(f"  {s:<5} hold {h.start_s:7.1f}–{h.end_s:7.1f} s: {h.value:+6.1f}° "
                             f"(steadiness {h.steadiness:.2f}°, hugged knee {h.hugged_thigh_flexion_deg:.0f}°){flags}")
        for r in result.rejected:
            lines.append(f"  not a test hold at {r.start_s:.1f}–{r.end_s:.1f} s: {r.reason}")
    return lines


def _is_csv(value: str) -> bool:
    p = Path(value)
    return p.suffix.lower() in (".csv", ".txt") or p.exists()


def _read_csv(path):
    from imugait.store.csvio import read_imu_csv

    tab = read_imu_csv(path)
    return tab.t_s, tab.acc_mps2, tab.gyr_dps


@click.command("flexor-test")
@click.argument("session", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--left", "left", metavar="CSV|ADDR", help="Left-thigh CSV file (import format), or the BLE address/name "
                                                       "of the left sensor for a guided test.")
@click.option("--right", "right", metavar="CSV|ADDR", help="Right-thigh CSV file, or the right sensor's BLE address/name.")
@click.option("--simulate", is_flag=True, help="Guided test with a simulated runner (no sensors needed).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for flexor_test.json (default: flexor_test_<name>); a path ending in .json names the "
                   "file itself.")
@click.option("--session-out", "session_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Guided test: the session file to record (default OUT/flexor_test.h5); CSV input: import the "
                   "files into this session and store the result there.")
@click.option("--no-store", is_flag=True, help="Do not store the result in the session file.")
@click.option("--repeats", type=click.IntRange(1, 10), default=3, show_default=True, help="Guided: holds per leg.")
@click.option("--hold", "hold_s", type=click.FloatRange(4.0, 60.0), default=10.0, show_default=True,
              help="Guided: seconds each leg hangs.")
@click.option("--first", type=click.Choice(["left", "right"]), default="left", show_default=True,
              help="Guided: the leg tested first.")
@click.option("--subject", default="", help="Subject id stored with a recorded session.")
@click.option("--condition", default="", help="Condition stored with a recorded session (e.g. before, after).")
@click.option("--speed", type=click.FloatRange(min=0.1, max=20.0), default=1.0, show_default=True,
              help="--simulate: run this many times faster than real time (the simulated radio link carries "
                   "up to about 20×).")
@click.option("--sim-left-deg", type=float, default=8.0, show_default=True,
              help="--simulate: the runner's left thigh, degrees below the horizontal (negative: above).")
@click.option("--sim-right-deg", type=float, default=3.0, show_default=True,
              help="--simulate: the right thigh, degrees below the horizontal.")
@click.option("--seed", type=int, default=1, show_default=True, help="--simulate: random seed.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --session-out file.")
def flexor_test(session, left, right, simulate, out_dir, session_out, no_store, repeats, hold_s, first, subject,
                condition, speed, sim_left_deg, sim_right_deg, seed, overwrite):
    """The modified Thomas test (hip-flexor length), measured with the thigh sensors.

    \b
    On a recording:   imugait flexor-test SESSION.h5
                      imugait flexor-test --left L.csv --right R.csv --out DIR
    Guided, sensors:  imugait flexor-test --left ADDR --right ADDR --subject R01 --condition before
    Guided, simulated: imugait flexor-test --simulate --speed 5 --out DIR

    The recording must start with ≥ 2 s standing still (the thigh axis). A hold: both
    thighs still ≥ 3 s, one hanging over the table edge near horizontal, the other knee
    hugged to the chest. Writes OUT/flexor_test.json (per side thigh_below_horizontal_deg,
    the median of its holds, + = below the horizontal) and stores the result in the session.
    """
    csv_in = bool(left or right) and all(_is_csv(v) for v in (left, right) if v)
    ble = bool(left or right) and not csv_in
    chosen = sum([session is not None, csv_in, ble, bool(simulate)])
    if chosen != 1:
        raise click.UsageError("give one of: SESSION.h5, --left L.csv --right R.csv, --left ADDR --right ADDR "
                               "(guided with sensors), or --simulate")
    if csv_in:
        for v in (left, right):
            if v and not Path(v).exists():
                raise InputFileError(v, None, "file not found", "check the path and file name")
    name = (session.stem if session is not None else Path(left or right).stem if csv_in
            else "simulated" if simulate else "sensors")
    out_dir = out_dir or Path(f"flexor_test_{name}")
    json_out = out_dir
    if out_dir.suffix.lower() == ".json":
        out_dir = out_dir.parent
    store_path = None
    extra = {}
    if session is not None:
        from imugait.app.session_analysis import analyze_flexor_session as analyze_session

        result = analyze_session(session)
        store_path = None if no_store else session
    elif csv_in:
        inputs = {"left": _read_csv(left) if left else None, "right": _read_csv(right) if right else None}
        src = ", ".join(str(v) for v in (left, right) if v)
        result = analyze_flexor(inputs["left"], inputs["right"], source=src)
        if session_out is not None:
            from imugait.store.importers import import_csv

            _check_new(session_out, overwrite)
            import_csv(left=left, right=right, out=session_out, overwrite=overwrite,
                       meta={"subject_id": subject, "condition": condition, "protocol": "modified Thomas test"})
            store_path = None if no_store else session_out
    else:
        steps = protocol_steps(repeats, hold_s, first)
        session_out = session_out or (out_dir / "flexor_test.h5")
        _check_new(session_out, overwrite)
        meta = {"subject_id": subject, "condition": condition, "protocol": "modified Thomas test",
                "activity": "hip-flexor test"}
        if simulate:
            from imugait.sim.source import SimulatedSource
            from imugait.sim.flexor import follow_protocol

            sim = follow_protocol(steps, sim_left_deg, sim_right_deg, seed=seed)
            source: Source = SimulatedSource(dict(sim.sides), speed=speed, seed=seed)
            smeta = {"source": "simulated", "source_json": {"simulator": "imugait.sim.flexor", "seed": seed,
                                                            "left_deg": sim_left_deg, "right_deg": sim_right_deg,
                                                            "speed": speed}}
            truth = out_dir / "truth.json"
            outputs.out_dir(out_dir)
            outputs.write_text(truth, json.dumps(sim.truth_dict(), indent=1, allow_nan=False))
            extra["simulated_truth"] = {s: v for s, v in sim.side_truth().items()}
        else:
            from imugait.acquire.ble import BleSource

            source = BleSource(left=left, right=right)
            smeta = {"source": "ble", "source_json": {"left": left, "right": right}}
        click.echo(f"Modified Thomas test: {repeats} hold(s) per leg of {hold_s:g} s; recording to {session_out}",
                   err=True)
        recorded = run_guided(source, smeta, session_out, steps, meta, simulated_speed=speed if simulate else None)
        from imugait.app.session_analysis import analyze_flexor_session as analyze_session

        result = analyze_session(recorded)
        store_path = None if no_store else recorded
    json_path = write_json(result, json_out, extra)
    for line in report_lines(result):
        click.echo(line)
    click.echo(result.verdict())
    if store_path is not None and not result.refused:
        from imugait.store.flexor import write_result

        run_id = write_result(store_path, result)
        click.echo(f"stored in {store_path} (/flexor_test/{run_id})")
    click.echo(f"wrote {json_path}")
    if result.refused:
        raise FlexorTestRefused(f"{result.source or name}: {result.refused}")


def _check_new(path: Path, overwrite: bool) -> None:
    if path.exists():
        if not overwrite:
            raise ImugaitError(f"{path}: file exists — choose another --session-out name, or add --overwrite")
        path.unlink()

"""What ``imugait demo`` does, step by step (kept apart from the click command so the
test suite can drive it in-process)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

import imugait.extras as extras
from imugait.errors import ImugaitError

# The two simulated runs: same runner, same sensors (same sensor_seed), same speed and
# cadence; the after-run swings the thighs through a 10 % larger range ("stretching").
RUN_SPEED_MPS = 3.2
RUN_CADENCE_SPM = 168.0
AFTER_ROM_SCALE = 1.10
STAND_BEFORE_S = 5.0  # standing still first: the strap calibration needs it


@dataclass(frozen=True)
class DemoRun:
    label: str  # "before" | "after"
    condition: str  # session condition label
    rom_scale: float
    seed: int


def demo_runs(seed: int) -> tuple[DemoRun, DemoRun]:
    return (DemoRun("before", "pre-stretch", 1.0, seed), DemoRun("after", "post-stretch", AFTER_ROM_SCALE, seed + 1))


def sim_settings(run: DemoRun, duration_s: float, seed: int) -> dict:
    return dict(gait="run", speed_mps=RUN_SPEED_MPS, cadence_spm=RUN_CADENCE_SPM, rom_scale=run.rom_scale,
                seed=run.seed, sensor_seed=seed, stand_before_s=STAND_BEFORE_S, fs_hz=200.0)


def _say(msg: str) -> None:
    click.echo(msg)
    sys.stdout.flush()


def choose_transport(transport: str) -> tuple[str, str]:
    """Return ``("ble"|"inprocess", why)``."""
    if transport == "inprocess":
        return "inprocess", "asked for in-process virtual sensors"
    from imugait.sim.demo_ble import bluez_available

    ok, why = bluez_available()
    if ok:
        return "ble", "virtual sensors behind an emulated BlueZ, read by unmodified bleak"
    if transport == "ble":
        raise ImugaitError(f"the emulated BlueZ cannot run here: {why}")
    return "inprocess", f"the emulated BlueZ cannot run here ({why}); using in-process virtual sensors instead"


def record_run(path: Path, run: DemoRun, duration_s: float, seed: int, transport: str) -> None:
    """Record one simulated run to ``path`` through the chosen transport."""
    from imugait.app.record import RecordOptions, run_record

    sim = sim_settings(run, duration_s, seed)
    total_s = STAND_BEFORE_S + duration_s
    meta = {"subject_id": "demo-runner", "condition": run.condition, "activity": "treadmill run (simulated)",
            "notes": f"imugait demo: {run.label} stretching (simulated, rom_scale={run.rom_scale})"}
    opts = RecordOptions(out=path, simulate=True, duration_s=total_s, meta=meta, quiet=False, sim=sim,
                         speed=1.0 if transport == "ble" else None, analyze_after=True)

    if transport == "ble":
        from imugait.sim.demo_ble import demo_ble_source
        from imugait.sim.gait import SimConfig, simulate

        cfg = dict(sim)
        cfg.update(duration_s=total_s + 1.0, stand_after_s=0.0)  # as `record --simulate` does
        sim_rec = simulate(SimConfig(**cfg))
        with demo_ble_source(sim_rec) as demo:
            code = run_record(opts, source=demo.source,
                              source_meta={"source": "emulated-bluez",
                                           "source_json": {"simulator": cfg, "transport": "bleak + emulated BlueZ"}})
    else:
        code = run_record(opts)
    if code != 0:
        raise ImugaitError(f"{path}: recording failed (exit code {code})")


def print_session_summary(path: Path) -> dict:
    from imugait.store.reader import open_session

    with open_session(path) as s:
        summ = s.summary or {}
        strides = s.strides
    sides = summ.get("sides", {})
    for side in ("left", "right"):
        d = sides.get(side) or {}
        if not d:
            continue
        m = d.get("metrics", d)

        def med(name, m=m):
            v = m.get(name)
            v = v.get("median") if isinstance(v, dict) else v
            return float("nan") if v is None else float(v)

        n = int((strides["side"] == side).sum() if strides is not None else 0)
        nv = int(((strides["side"] == side) & strides["valid"]).sum() if strides is not None else 0)
        _say(f"    {side:5s}: {nv:3d}/{n:3d} strides valid | hip range {med('rom_deg'):5.1f}° | "
             f"swing {med('swing_pct'):4.1f} % | stance {1000 * med('stance_s'):4.0f} ms | "
             f"cadence {med('cadence_spm'):5.1f} steps/min")
    asym = summ.get("asymmetry") or {}
    if isinstance(asym, dict) and asym.get("metrics"):
        rom = asym["metrics"].get("rom_deg") or {}
        bal = rom.get("balance_left_pct")
        if bal is not None:
            _say(f"    hip-range balance: {float(bal):.1f} % left")
    return summ


def run_demo(out_dir: Path, duration_s: float, transport: str, window: bool | None, seed: int) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind, why = choose_transport(transport)
    _say("imugait demo — a simulated runner, two thigh sensors, a run before and after stretching")
    _say(f"  transport: {why}")
    _say(f"  sessions:  {out_dir}/before.h5, {out_dir}/after.h5 ({duration_s:g} s of running each"
         + (", streamed in real time" if kind == "ble" else "") + ")")
    paths = {}
    for run in demo_runs(seed):
        path = out_dir / f"{run.label}.h5"
        if path.exists():
            path.unlink()
        _say(f"\n[{run.label}] recording {path} ({run.condition})")
        t0 = time.monotonic()
        record_run(path, run, duration_s, seed, kind)
        _say(f"[{run.label}] done in {time.monotonic() - t0:.1f} s; results:")
        print_session_summary(path)
        paths[run.label] = path

    _say("\n[compare] before vs after")
    from imugait.compare.api import compare_report

    figures = extras.available("reports")
    if not figures:
        _say(f"    (report without figures: they need the [reports] extra, {extras.install_hint('reports')})")
    report = compare_report([paths["before"]], [paths["after"]], out_dir / "comparison", figures=figures)
    comp = json.loads((Path(report).parent / "comparison.json").read_text())
    for m in comp.get("metrics", []):
        if m.get("metric") == "rom_deg":
            _say(f"    {m['side']:5s} hip range: {m['verdict']}")
    _say(f"\nReport: {Path(report).resolve()}")
    after = paths["after"]
    _say(f"Next: imugait info {after} | imugait report {after} | imugait live --replay {after}")

    show = window if window is not None else bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if show and window is None and not extras.available("live"):
        _say(f"(The live dashboard needs the [live] extra: {extras.install_hint('live')}.)")
        show = False
    if show:
        extras.require("live", "the demo's live window", "or run the demo with --no-window")
        _say("Opening the live dashboard on a replay of the after-run (close the window to finish).")
        from imugait.live.app import run_live

        run_live(replay=str(paths["after"]), speed=1.0)
    return Path(report)

#!/usr/bin/env python
"""kill -9 sweep (not a test): `record`, `import` and `reprocess` killed at random moments.

    .venv/bin/python tools/kill_sweep.py [--moments 20] [--seed 14] [--only record,import,reprocess]

For each command, one undisturbed run measures how long it takes; then ``--moments`` runs
are killed with SIGKILL at moments drawn uniformly over that time (plus 10 %, so some kills
land after the work is done) — through start-up, recording/importing, closing and
compaction, analysis, and the result write — and three to five more at deterministic points
inside the file changes (``IMUGAIT_PAUSE_AT``: ``results-edit``, ``results-write``,
``results-replace``; for ``record`` also the closing compaction ``compact-write``/``-replace``;
for ``import`` the publishing write ``creating-write``). After every
kill the file must open with ``open_session`` and ``imugait info`` without any manual
repair, and:

* ``record`` (simulated sensors, real time, ``--duration 5``, analysis at the end): the
  samples lost = (data time at the kill, capped at the recording's length) − (last sample
  time in the file), per side; target ≤ 1 s. A kill before the file exists is reported as
  "no file yet" (nothing had been recorded).
* ``import --analyze`` (two CSV files of 120 s): the session under its final name is either
  absent (and the next import works) or complete (every CSV row); nothing is lost — the
  CSV files are untouched.
* ``reprocess --replace`` (4 copies of a 60 s session, ``-j 1``): every file keeps its raw
  data (same raw-data SHA-256) and holds either its old results or complete new ones
  (the results checksum verifies).

Report only figures you ran today (see docs/session-schema.md for the last run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import imugait
from imugait.errors import ImugaitError

PY = sys.executable
PAUSES = {"record": ("compact-write", "compact-replace", "results-edit", "results-write", "results-replace"),
          "import": ("creating-write", "results-write", "results-replace"),
          "reprocess": ("results-edit", "results-write", "results-replace")}


def cmd(*args) -> list[str]:
    return [PY, "-m", "imugait", *map(str, args)]


def run_and_kill(argv, moment_s: float | None, pause: str | None = None, timeout_s: float = 300.0):
    """Start ``argv``; kill it ``moment_s`` after start (or when it reaches ``pause``).
    Returns (seconds from the 'recording to' line — or start — to the kill, killed?, stderr,
    whether the 'recording to' line had appeared)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if pause:
        env["IMUGAIT_PAUSE_AT"] = pause
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    t_start = None
    os.set_blocking(p.stderr.fileno(), False)
    buf = ""
    while True:
        try:
            chunk = p.stderr.read() or ""
        except (OSError, TypeError):
            chunk = ""
        buf += chunk
        if t_start is None and "recording to" in buf:
            t_start = time.monotonic()
        now = time.monotonic()
        if pause and f"paused at {pause}" in buf:
            break
        if not pause and moment_s is not None and now - t0 >= moment_s:
            break
        if p.poll() is not None:
            return (now - (t_start or t0)), False, buf, t_start is not None
        if now - t0 > timeout_s:
            break
        time.sleep(0.005)
    t_kill = time.monotonic()
    p.send_signal(signal.SIGKILL)
    p.wait()
    try:
        buf += p.stderr.read() or ""
    except (OSError, TypeError):
        pass
    return t_kill - (t_start or t0), True, buf, t_start is not None


def check_open(path) -> tuple[bool, str]:
    """open_session + imugait info, no repair."""
    try:
        with imugait.open_session(path) as s:
            for side in s.sides:
                s.stats(side)
            _ = s.strides
    except ImugaitError as e:
        return False, str(e)
    r = subprocess.run(cmd("info", path), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return False, r.stderr.strip()
    return True, ""


def leftovers(path) -> list[str]:
    path = Path(path)
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name + "."))


# --------------------------------------------------------------------------- record

def sweep_record(work: Path, moments: np.ndarray, duration_s: float) -> dict:
    argv = lambda out: cmd("record", "--simulate", "--duration", duration_s, "--out", out, "--quiet",  # noqa: E731
                           "--seed", "3")
    rows = []
    kills = [(f"t={m:.2f}s", m, None) for m in moments] + [(p, None, p) for p in PAUSES["record"]]
    for k, (label, m, pause) in enumerate(kills):
        out = work / f"rec{k:02d}.h5"
        t_kill, killed, err, started = run_and_kill(argv(out), m, pause)
        row = {"label": label, "killed": killed, "t_kill_s": t_kill}
        if not out.exists():
            # killed before the sensors sent anything: nothing recorded, nothing to keep
            row.update(file="no file yet", ok=not started or t_kill < 1.5, lost_s=0.0)
            rows.append(row)
            continue
        ok, why = check_open(out)
        row.update(ok=ok, why=why)
        if ok:
            with imugait.open_session(out) as s:
                t_last = min(s.stats(x)["t_last_s"] if s.stats(x)["n_samples"] else 0.0 for x in s.sides)
                row["state"] = s.writer_state.state
                row["closed_cleanly"] = s.closed_cleanly
                row["results"] = s.current_run or "-"
            data_at_kill = min(t_kill, duration_s) if killed else duration_s
            row["lost_s"] = max(0.0, data_at_kill - t_last) if killed else 0.0
            row["t_last_s"] = t_last
        row["leftovers"] = leftovers(out)
        rows.append(row)
    return summarise("record", rows)


# --------------------------------------------------------------------------- import

def sweep_import(work: Path, moments: np.ndarray, csv_dir: Path, n_rows: int) -> dict:
    rows = []
    kills = [(f"t={m:.2f}s", m, None) for m in moments] + [(p, None, p) for p in PAUSES["import"]]
    for k, (label, m, pause) in enumerate(kills):
        out = work / f"imp{k:02d}.h5"
        t_kill, killed, _err, _s = run_and_kill(cmd("import", "--left", csv_dir / "left.csv", "--right",
                                                csv_dir / "right.csv", "--out", out, "--analyze"), m, pause)
        row = {"label": label, "killed": killed, "t_kill_s": t_kill, "lost_s": 0.0}
        if not out.exists():
            left = leftovers(out)
            r = subprocess.run(cmd("import", "--left", csv_dir / "left.csv", "--out", out), capture_output=True,
                               text=True, timeout=300)
            row.update(file="absent", ok=r.returncode == 0 and leftovers(out) == [], why=r.stderr.strip(),
                       leftovers_before_retry=left)
            rows.append(row)
            continue
        ok, why = check_open(out)
        row.update(ok=ok, why=why, file="present")
        if ok:
            with imugait.open_session(out) as s:
                n = [s.stats(x)["n_samples"] for x in s.sides]
                row["complete"] = n == [n_rows, n_rows]
                row["results"] = s.current_run or "-"
            row["ok"] = row["complete"]
        row["leftovers"] = leftovers(out)
        rows.append(row)
    return summarise("import", rows)


# --------------------------------------------------------------------------- reprocess

def sweep_reprocess(work: Path, moments: np.ndarray, base: Path, n_files: int = 4) -> dict:
    with imugait.open_session(base) as s:
        raw0 = s.raw_sha256()
        created0 = s.run_attrs()["created_utc"]
    rows = []
    kills = [(f"t={m:.2f}s", m, None) for m in moments] + [(p, None, p) for p in PAUSES["reprocess"]]
    for k, (label, m, pause) in enumerate(kills):
        d = work / f"rep{k:02d}"
        d.mkdir()
        files = []
        for i in range(n_files):
            f = d / f"s{i}.h5"
            shutil.copy(base, f)
            files.append(f)
        t_kill, killed, _err, _s = run_and_kill(cmd("reprocess", d, "--replace", "--out", work / f"rep{k:02d}_out", "-j",
                                                "1", "-q"), m, pause)
        row = {"label": label, "killed": killed, "t_kill_s": t_kill, "lost_s": 0.0, "ok": True, "new_runs": 0}
        for f in files:
            ok, why = check_open(f)
            if not ok:
                row.update(ok=False, why=f"{f.name}: {why}")
                continue
            with imugait.open_session(f) as s:
                if s.raw_sha256() != raw0:
                    row.update(ok=False, why=f"{f.name}: raw data changed")
                a = s.run_attrs()  # the checksum verifies, or this raises
                if a is None:
                    row.update(ok=False, why=f"{f.name}: no results at all")
                elif a["created_utc"] != created0:
                    row["new_runs"] += 1  # --replace: a new complete run-0001
                if a is not None:
                    _ = s.strides  # the stored strides must read back
            if leftovers(f):
                row.setdefault("leftovers", []).extend(leftovers(f))
        rows.append(row)
    return summarise("reprocess", rows)


def summarise(name: str, rows: list[dict]) -> dict:
    lost = [r["lost_s"] for r in rows if r.get("lost_s") is not None and r.get("ok")]
    ok = sum(1 for r in rows if r.get("ok"))
    print(f"\n{name}: {ok}/{len(rows)} kills left a file that opens without repair (or, where no file, a clean slate)")
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("label", "ok", "why", "t_kill_s", "killed")}
        flag = "ok " if r.get("ok") else "BAD"
        print(f"  {flag} kill {r['label']:>16} at {r['t_kill_s']:6.2f} s{'' if r['killed'] else ' (finished first)'}: "
              + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items())
              + (f" — {r['why']}" if r.get("why") and not r.get("ok") else ""))
    if lost:
        print(f"  samples lost: max {max(lost):.2f} s, median {float(np.median(lost)):.2f} s (target <= 1 s)")
    return {"name": name, "ok": ok, "n": len(rows), "lost_max_s": max(lost) if lost else 0.0,
            "lost_median_s": float(np.median(lost)) if lost else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moments", type=int, default=20)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--only", default="record,import,reprocess")
    ap.add_argument("--keep", type=Path, default=None, help="keep the files in this folder")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    work = Path(a.keep or tempfile.mkdtemp(prefix="imugait-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    which = a.only.split(",")
    results = []
    t_all = time.monotonic()
    if "record" in which:
        dur = 5.0
        t = time.monotonic()
        r = subprocess.run(cmd("record", "--simulate", "--duration", dur, "--out", work / "rec_timing.h5", "--quiet"),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        total = time.monotonic() - t
        print(f"record: undisturbed run {total:.1f} s (duration {dur:g} s + start-up, close, analysis)")
        results.append(sweep_record(work, np.sort(rng.uniform(0.3, total * 1.1, a.moments)), dur))
    if "import" in which:
        csv_dir = work / "csv"
        subprocess.run(cmd("simulate", "--duration", 120, "--out", csv_dir, "--seed", 4), check=True,
                       capture_output=True)
        t = time.monotonic()
        r = subprocess.run(cmd("import", "--left", csv_dir / "left.csv", "--right", csv_dir / "right.csv", "--out",
                               work / "imp_timing.h5", "--analyze"), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        total = time.monotonic() - t
        print(f"import --analyze: undisturbed run {total:.1f} s (two 120 s CSV files)")
        results.append(sweep_import(work, np.sort(rng.uniform(0.2, total * 1.1, a.moments)), csv_dir, 24000))
    if "reprocess" in which:
        base = work / "base.h5"
        from imugait.compare import write_sim_session
        from imugait.sim.gait import SimConfig
        from imugait.app.session_analysis import process_session

        write_sim_session(base, SimConfig(gait="run", duration_s=60, seed=2), block_s=0.02)
        process_session(base)
        d = work / "rep_timing"
        d.mkdir()
        for i in range(4):
            shutil.copy(base, d / f"s{i}.h5")
        t = time.monotonic()
        r = subprocess.run(cmd("reprocess", d, "--replace", "--out", work / "rep_timing_out", "-j", "1", "-q"),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        total = time.monotonic() - t
        print(f"reprocess --replace: undisturbed run {total:.1f} s (4 sessions of 60 s)")
        results.append(sweep_reprocess(work, np.sort(rng.uniform(0.2, total * 1.1, a.moments)), base))
    print(f"\nsummary ({time.monotonic() - t_all:.0f} s, files in {work}):")
    for r in results:
        print(f"  {r['name']:<10} {r['ok']}/{r['n']} usable without repair; lost max {r['lost_max_s']:.2f} s, "
              f"median {r['lost_median_s']:.2f} s")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["ok"] == r["n"] and r["lost_max_s"] <= 1.0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

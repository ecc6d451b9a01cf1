"""Import recordings made elsewhere into sessions, so every analysis runs from sessions.

CSV (``docs/csv-format.md``, read by :mod:`imugait.store.csvio`)
-----------------------------------------------------------------
CSV values are floats in SI units; sessions store raw int16 counts with a scale factor, so
the importer quantises them. The scale is the finest of a standard MEMS setting that holds
the data without clipping:

============  ==============================  ============================  =====================
quantity      ranges tried (first that fits)  step (counts -> SI)           quantisation RMS
============  ==============================  ============================  =====================
acceleration  ±16 g, ±32 g, ±64 g             1/2048 g = 0.00479 m/s² (16 g) 0.0014 m/s² (16 g)
angular rate  ±2000, ±4000 deg/s              1/16.4 deg/s = 0.061 deg/s    0.018 deg/s (2000)
============  ==============================  ============================  =====================

The quantisation RMS (step/√12) is 10× below typical MEMS noise at 200 Hz (≈0.015 m/s²,
≈0.07 deg/s), so the analysis sees the same data. Values beyond the largest range are
clipped with a warning. The largest quantisation error actually made is stored with the
provenance (``source_json.quantisation``) and the source files' SHA-256, so the original
can always be identified. Device time = session time = the CSV's time column, after
:func:`imugait.timebase.fit_timebase` (coarse/batched clocks re-fitted from the sample index).
Every input passes :func:`imugait.inputcheck.check_imu` before anything is written (wrong
units, broken time: one sentence, no session); what the checks measured and any re-fitting
is stored per file in ``source_json.files[*]`` (``timebase``, ``checks``, ``warnings``).

HuGaDB (:mod:`imugait.store.hugadb`)
------------------------------------
HuGaDB files already hold int16 counts (acc 16384 counts/g, gyro 16.4 counts/(deg/s)); the
thigh sensors are stored unchanged (the shin and foot sensors are not imported). The
sample clock is the nominal 58.8 Hz (HuGaDB has no time stamps).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imugait.conventions import GRAVITY_MPS2, SIDES, Side
from imugait.errors import ImugaitError
from imugait.inputcheck import ImuData, check_imu
from imugait.store.csvio import read_imu_csv
from imugait.store.hugadb import read_hugadb
from imugait.store.writer import SessionWriter
from imugait.types import SampleBlock, SensorInfo

ACC_RANGES_G = (16.0, 32.0, 64.0)
GYR_RANGES_DPS = (2000.0, 4000.0)
COUNTS_FULL_SCALE = 32768.0
GYR_COUNTS_PER_DPS_2000 = 16.4  # the usual MEMS gyro setting for ±2000 deg/s
BLOCK_SAMPLES = 1000


@dataclass
class ImportReport:
    path: Path
    samples: dict = field(default_factory=dict)  # side -> n
    warnings: list = field(default_factory=list)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def acc_scale_for_range(range_g: float) -> float:
    return range_g * GRAVITY_MPS2 / COUNTS_FULL_SCALE


def gyr_scale_for_range(range_dps: float) -> float:
    return (range_dps / 2000.0) / GYR_COUNTS_PER_DPS_2000


def quantise(values: np.ndarray, ranges, scale_for, what: str, name: str, warnings: list):
    """values (n,3) float -> (int16 counts, scale, range, max abs error, clipped count)."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    rng = next((r for r in ranges if peak <= (COUNTS_FULL_SCALE - 1) * scale_for(r)), ranges[-1])
    scale = scale_for(rng)
    counts = np.rint(values / scale)
    clipped = int(np.count_nonzero((counts > 32767) | (counts < -32768)))
    counts = np.clip(counts, -32768, 32767).astype(np.int16)
    if clipped:
        warnings.append(f"{name}: {clipped} {what} value(s) beyond ±{rng:g} were clipped to full scale")
    err = np.abs(counts.astype(np.float64) * scale - values)
    ok = np.abs(values) <= 32767 * scale
    max_err = float(err[ok].max()) if ok.any() else 0.0
    return counts, scale, rng, max_err, clipped


@dataclass
class SideArrays:
    """One sensor's samples, ready to be written: counts as the sensor reports them, the
    session time of every sample and, when it differs, its device time and sample index."""

    info: SensorInfo
    t_s: np.ndarray                         # session time of each sample
    acc_counts: np.ndarray
    gyr_counts: np.ndarray
    t_dev_s: np.ndarray | None = None       # device time (default: the session time)
    sample_index: np.ndarray | None = None  # device sample counter (default: 0, 1, 2, …)


def write_arrays(out, meta: dict, sides: dict[Side, SideArrays], *, overwrite: bool = False,
                 block_samples: int = 0, reason: str = "imported") -> Path:
    """Write in-memory samples as a session — the one "arrays -> SessionWriter" path (CSV and
    HuGaDB import, simulated sessions). Built in memory and written under ``out`` only when
    complete (atomically): a write killed or failing mid-way leaves no file, and
    ``overwrite`` keeps the old file until the new one is ready. ``block_samples``: samples
    per stored block (default :data:`BLOCK_SAMPLES`)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ImugaitError(f"{out}: file exists — choose another --out name, or add --overwrite")
    step = int(block_samples) if block_samples and block_samples > 0 else BLOCK_SAMPLES
    w = SessionWriter(out, meta, overwrite=overwrite, in_memory=True)
    ok = False
    try:
        for a in sides.values():
            w.add_sensor(a.info)
        w.start()
        for side, a in sides.items():
            t_dev = a.t_s if a.t_dev_s is None else a.t_dev_s
            for i in range(0, len(a.t_s), step):
                sl = slice(i, i + step)
                first = i if a.sample_index is None else int(a.sample_index[i])
                w.append_block(SampleBlock(side=side, first_index=first, t_dev_s=t_dev[sl], acc_counts=a.acc_counts[sl],
                                           gyr_counts=a.gyr_counts[sl], acc_scale_mps2=a.info.acc_scale_mps2,
                                           gyr_scale_dps=a.info.gyr_scale_dps, seq=-1), a.t_s[sl])
        ok = True
    finally:
        if ok:
            w.close(reason)
        else:
            w.abort()
    return out


def write_session_arrays(out, meta, sides: dict, overwrite: bool) -> None:
    """sides: side -> (SensorInfo, t_s, acc_counts, gyr_counts) — :func:`write_arrays` with
    the sample index counting from 0 and device time = session time (imported files)."""
    write_arrays(out, meta, {side: SideArrays(info, t, acc, gyr) for side, (info, t, acc, gyr) in sides.items()},
                 overwrite=overwrite)


def import_csv(left=None, right=None, out=None, meta: dict | None = None, overwrite: bool = False,
               acc_unit: str | None = None, gyr_unit: str | None = None) -> ImportReport:
    """Import one CSV file per thigh (either side may be missing) into a new session."""
    files = {s: Path(p) for s, p in zip(SIDES, (left, right)) if p is not None}
    if not files:
        raise ImugaitError("give at least one CSV file (--left and/or --right)")
    rep = ImportReport(Path(out))
    sides, prov, quant = {}, [], {}
    for side, path in files.items():
        tab = check_imu(read_imu_csv(path, acc_unit=acc_unit, gyr_unit=gyr_unit))  # physics + time base
        rep.warnings.extend(tab.warnings)
        acc, a_scale, a_rng, a_err, a_clip = quantise(tab.acc_mps2, ACC_RANGES_G,
                                                      lambda r: acc_scale_for_range(r), "acceleration",
                                                      path.name, rep.warnings)
        gyr, g_scale, g_rng, g_err, g_clip = quantise(tab.gyr_dps, GYR_RANGES_DPS, gyr_scale_for_range,
                                                      "angular rate", path.name, rep.warnings)
        info = SensorInfo(side=side, kind="csv", sample_rate_hz=round(tab.fs_hz, 6), acc_scale_mps2=a_scale,
                          gyr_scale_dps=g_scale, acc_range_g=a_rng, gyr_range_dps=g_rng,
                          name=f"CSV {path.name}", device_id="")  # sensor unknown
        sides[side] = (info, tab.t_s, acc, gyr)
        prov.append({"side": side, "file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
                     "acc_unit": tab.acc_unit, "gyr_unit": tab.gyr_unit, "time_unit": tab.time_unit,
                     "time_column": tab.time_column, "n_samples": tab.n,
                     "timebase": tab.timebase.to_dict() if tab.timebase else None,
                     "checks": tab.checks, "warnings": list(tab.warnings)})
        quant[side] = {"acc_range_g": a_rng, "acc_step_mps2": a_scale, "acc_max_error_mps2": a_err,
                       "acc_clipped": a_clip, "gyr_range_dps": g_rng, "gyr_step_dps": g_scale,
                       "gyr_max_error_dps": g_err, "gyr_clipped": g_clip}
        rep.samples[side] = tab.n
    m = dict(meta or {})
    m.update(source="csv", source_json={"import": "csv", "files": prov, "quantisation": quant})
    write_session_arrays(out, m, sides, overwrite)
    return rep


def import_hugadb(path, out, meta: dict | None = None, overwrite: bool = False) -> ImportReport:
    """Import both thigh sensors of a HuGaDB v1 file into a new session (counts unchanged)."""
    path = Path(path)
    rec = read_hugadb(path)
    rep = ImportReport(Path(out))
    sides = {}
    q = rec.quality()
    for side in ("left", "right"):
        t, acc_si, gyr_si = rec.imu(side, "thigh")
        chk = check_imu(ImuData(t, acc_si, gyr_si, fs_hz=rec.fs_hz, source=f"{path} ({side} thigh)", origin="hugadb",
                                time_from_index=True))
        rep.warnings.extend(chk.warnings)
        seg = rec.thigh[side]
        info = rec.sensor_info(side)
        acc = np.clip(np.asarray(seg.acc_counts), -32768, 32767).astype(np.int16)
        gyr = np.clip(np.asarray(seg.gyr_counts), -32768, 32767).astype(np.int16)
        sides[side] = (info, np.asarray(rec.t_s, dtype=np.float64), acc, gyr)
        rep.samples[side] = int(len(acc))
        for sensor in ("acc", "gyr"):
            pct = q.get(f"{side}_thigh_{sensor}_clipped_pct", 0.0)
            if pct > 0.1:
                rep.warnings.append(f"{path.name}: {side} thigh {sensor} clipped in {pct:.2f} % of samples "
                                    "(HuGaDB sensor range)")
    m = dict(meta or {})
    m.setdefault("activity", rec.activity)
    if not m.get("activity"):
        m["activity"] = rec.activity
    m.update(source="hugadb", source_json={
        "import": "hugadb", "files": [{"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size}],
        "date": rec.date, "activity": rec.activity, "fs_hz": rec.fs_hz, "quality": q,
        "citation": "R. Chereshnev, A. Kertesz-Farkas, HuGaDB: Human Gait Database for Activity Recognition "
                    "from Wearable Inertial Sensor Networks, AIST 2017"})
    write_session_arrays(out, m, sides, overwrite)
    return rep

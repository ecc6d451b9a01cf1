"""Reader for HuGaDB v1 recordings (real thigh/shin IMU data).

HuGaDB: R. Chereshnev, A. Kertész-Farkas, "HuGaDB: Human Gait Database for Activity
Recognition from Wearable Inertial Sensor Networks", AIST 2017 (no explicit licence; the
authors ask for this citation). Files as published in github.com/BlackPer/Legpro.

Format (tab separated)::

    #Activity	walking
    #ActivityID	1
    #Date	...
    RF_acc_x	RF_acc_y ...            (or acc_rf_x acc_rf_y ... — both styles exist)
    int16 counts ...

39 columns: acc x/y/z and gyro x/y/z for RF, RS, RT, LF, LS, LT (R/L right/left,
F/S/T foot/shin/thigh), then two EMG columns and the activity id. Accelerometer
16384 counts/g (±2 g, clips in fast walking), gyroscope 16.4 counts/(deg/s)
(±2000 deg/s). No time stamps: the nominal rate is 58.8 Hz (679,073 walking samples over
11,544 s in the database totals), so ``t_s = index / 58.8``.

``read_hugadb(path)`` returns a :class:`HugadbRecording` with, per side, the thigh and
shin acc (m/s²) and gyro (deg/s) in the sensor frame and per-sample clipping flags.
Anything that is not such a file raises :class:`imugait.errors.InputFileError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imugait.conventions import GRAVITY_MPS2, Side
from imugait.errors import InputFileError
from imugait.types import SensorInfo

HUGADB_FS_HZ = 58.8
"""Nominal sample rate (database totals: 679,073 walking samples / 11,544 s)."""
ACC_COUNTS_PER_G = 16384.0
GYR_COUNTS_PER_DPS = 16.4
ACC_SCALE_MPS2 = GRAVITY_MPS2 / ACC_COUNTS_PER_G
GYR_SCALE_DPS = 1.0 / GYR_COUNTS_PER_DPS
CLIP_COUNTS = 32767  # |counts| >= this is a clipped (saturated) sample

SEGMENTS = ("f", "s", "t")  # foot, shin, thigh
_SIDE_LETTER = {"right": "r", "left": "l"}

_COL_A = re.compile(r"^([RL])([FST])_(acc|gyro)_([xyz])$", re.IGNORECASE)  # RT_acc_x
_COL_B = re.compile(r"^(acc|gyro)_([rl])([fst])_([xyz])$", re.IGNORECASE)  # acc_rt_x


def normalise_column(name: str) -> str | None:
    """``RT_acc_x`` / ``acc_rt_x`` -> ``rt_acc_x``; ``None`` for non-IMU columns."""
    n = name.strip()
    m = _COL_A.match(n)
    if m:
        return f"{m.group(1)}{m.group(2)}_{m.group(3)}_{m.group(4)}".lower()
    m = _COL_B.match(n)
    if m:
        return f"{m.group(2)}{m.group(3)}_{m.group(1)}_{m.group(4)}".lower()
    return None


@dataclass(frozen=True)
class HugadbSegment:
    """One sensor (e.g. right thigh) of a HuGaDB file, sensor frame, SI units."""

    acc_mps2: np.ndarray  # (n, 3)
    gyr_dps: np.ndarray  # (n, 3)
    acc_counts: np.ndarray  # (n, 3) int16-range raw values (int32 to keep -32768)
    gyr_counts: np.ndarray
    acc_clipped: np.ndarray  # (n,) bool, any axis at full scale
    gyr_clipped: np.ndarray

    @property
    def acc_clipped_pct(self) -> float:
        return float(100.0 * self.acc_clipped.mean()) if len(self.acc_clipped) else 0.0

    @property
    def gyr_clipped_pct(self) -> float:
        return float(100.0 * self.gyr_clipped.mean()) if len(self.gyr_clipped) else 0.0


@dataclass(frozen=True)
class HugadbRecording:
    path: str
    activity: str
    date: str
    fs_hz: float
    t_s: np.ndarray
    thigh: dict  # side -> HugadbSegment
    shin: dict  # side -> HugadbSegment
    activity_id: np.ndarray | None = field(repr=False, default=None)

    @property
    def n(self) -> int:
        return int(self.t_s.shape[0])

    def imu(self, side: Side, segment: str = "thigh") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(t_s, acc_mps2, gyr_dps)`` of one thigh (or shin) — the analysis input."""
        seg = (self.thigh if segment == "thigh" else self.shin)[side]
        return self.t_s, seg.acc_mps2, seg.gyr_dps

    def sensor_info(self, side: Side) -> SensorInfo:
        return SensorInfo(
            side=side, kind="hugadb", sample_rate_hz=self.fs_hz, acc_scale_mps2=ACC_SCALE_MPS2,
            gyr_scale_dps=GYR_SCALE_DPS, acc_range_g=2.0, gyr_range_dps=2000.0,
            mounting="front of thigh, about 5 cm above the knee (HuGaDB)",
            name=f"HuGaDB {Path(self.path).name} {side} thigh",
        )

    def quality(self) -> dict:
        """Clipping percentages per side and sensor (thigh, shin)."""
        q = {}
        for side in ("left", "right"):
            for segname, d in (("thigh", self.thigh), ("shin", self.shin)):
                s = d[side]
                q[f"{side}_{segname}_acc_clipped_pct"] = round(s.acc_clipped_pct, 3)
                q[f"{side}_{segname}_gyr_clipped_pct"] = round(s.gyr_clipped_pct, 3)
        return q


def read_hugadb(path, fs_hz: float = HUGADB_FS_HZ) -> HugadbRecording:
    """Read a HuGaDB v1 text file (either header style). Raises ``InputFileError``."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise InputFileError(p, None, "file not found", "check the path") from None
    except UnicodeDecodeError as e:
        raise InputFileError(p, f"byte {e.start}", "not a text file", "is this a HuGaDB .txt file?") from None
    except OSError as e:
        raise InputFileError(p, None, f"cannot be read ({e.strerror})", "check permissions") from None

    lines = raw.splitlines()
    meta = {}
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        parts = lines[i][1:].replace("\t", " ").split(None, 1)
        if parts:
            meta[parts[0].lower()] = parts[1].strip() if len(parts) > 1 else ""
        i += 1
    if i >= len(lines):
        raise InputFileError(p, f"line {i + 1}", "no column-name line found",
                             "a HuGaDB file has '#' header lines, then tab-separated column names")
    header_line = i + 1
    names = lines[i].rstrip("\r\n").split("\t")
    norm = [normalise_column(c) for c in names]
    index = {c: k for k, c in enumerate(norm) if c is not None}
    needed = [f"{s}{seg}_{kind}_{ax}" for s in "rl" for seg in ("s", "t") for kind in ("acc", "gyro") for ax in "xyz"]
    missing = [c for c in needed if c not in index]
    if missing:
        raise InputFileError(
            p, f"line {header_line}", f"missing HuGaDB columns {missing[:4]}{'…' if len(missing) > 4 else ''}",
            "expected names like RT_acc_x or acc_rt_x (HuGaDB v1 layout)")
    ncol = len(names)
    body = lines[i + 1:]
    # drop trailing empty lines only
    while body and not body[-1].strip():
        body.pop()
    if not body:
        raise InputFileError(p, f"line {header_line + 1}", "no data rows", "the file is empty after its header")
    data = np.empty((len(body), ncol), dtype=np.int64)
    try:
        arr = np.array([r.split("\t") for r in body], dtype=object)
        if arr.ndim != 2 or arr.shape[1] != ncol:
            raise ValueError("ragged")
        data[:] = arr.astype(np.int64)
    except (ValueError, TypeError):
        # find the first bad line for a precise message
        for k, r in enumerate(body):
            parts = r.split("\t")
            if len(parts) != ncol:
                raise InputFileError(p, f"line {header_line + 1 + k}",
                                     f"{ncol} columns expected, found {len(parts)}",
                                     "is the file truncated or edited?") from None
            try:
                [int(v) for v in parts]
            except ValueError:
                raise InputFileError(p, f"line {header_line + 1 + k}", "non-integer value",
                                     "HuGaDB rows hold integer counts only") from None
        raise
    if np.any(np.abs(data[:, [index[c] for c in needed]]) > 32768):
        k = int(np.argmax(np.any(np.abs(data[:, [index[c] for c in needed]]) > 32768, axis=1)))
        raise InputFileError(p, f"line {header_line + 1 + k}", "value outside the int16 range",
                             "HuGaDB stores raw int16 counts")

    def seg(side_letter: str, segletter: str) -> HugadbSegment:
        acc_c = data[:, [index[f"{side_letter}{segletter}_acc_{a}"] for a in "xyz"]].astype(np.int32)
        gyr_c = data[:, [index[f"{side_letter}{segletter}_gyro_{a}"] for a in "xyz"]].astype(np.int32)
        return HugadbSegment(
            acc_mps2=acc_c * ACC_SCALE_MPS2, gyr_dps=gyr_c * GYR_SCALE_DPS,
            acc_counts=acc_c, gyr_counts=gyr_c,
            acc_clipped=np.any(np.abs(acc_c) >= CLIP_COUNTS, axis=1),
            gyr_clipped=np.any(np.abs(gyr_c) >= CLIP_COUNTS, axis=1),
        )

    thigh = {side: seg(L, "t") for side, L in _SIDE_LETTER.items()}
    shin = {side: seg(L, "s") for side, L in _SIDE_LETTER.items()}
    act = data[:, -1].copy() if ncol >= 39 else None
    n = data.shape[0]
    return HugadbRecording(
        path=str(p), activity=meta.get("activity", ""), date=meta.get("date", ""), fs_hz=float(fs_hz),
        t_s=np.arange(n, dtype=np.float64) / float(fs_hz), thigh=thigh, shin=shin, activity_id=act,
    )


def is_hugadb_file(path) -> bool:
    """Cheap sniff: the first lines look like a HuGaDB header."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(5)]
    except OSError:
        return False
    return head[0].startswith("#Activity") and any(normalise_column(c) for c in head[3].split("\t"))

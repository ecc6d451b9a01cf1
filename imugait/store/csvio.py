"""CSV import format: one file per thigh, one row per sample.

Documented in ``docs/csv-format.md``. The default header is::

    time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps

* Units come from the column names: acceleration ``_mps2`` (m/s²) or ``_g`` (standard
  gravity), angular rate ``_dps`` (deg/s) or ``_rps`` (rad/s), time ``time_s`` or
  ``time_ms``. Unit-less names (``acc_x``, ``gyr_x``, ``time``) are accepted when the unit
  is given explicitly (``acc_unit=``/``gyr_unit=``; time then means seconds). An explicit
  unit always overrides the header.
* Columns may come in any order; extra columns are ignored (listed in
  ``ImuTable.ignored_columns``). Lines starting with ``#`` before the header are comments.
* Axes are the sensor's own axes (any strap orientation: the analysis calibrates it).

Reading is fast (pandas' C parser); only when something is wrong is the file scanned line
by line to name the exact line, column and problem in an
:class:`imugait.errors.InputFileError`.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2
from imugait.errors import InputFileError

AXES = ("x", "y", "z")
HEADER = ("time_s",) + tuple(f"acc_{a}_mps2" for a in AXES) + tuple(f"gyr_{a}_dps" for a in AXES)
HEADER_LINE = ",".join(HEADER)
MIN_SAMPLES = 10

_ACC_UNITS = {"mps2": "mps2", "m/s2": "mps2", "m/s^2": "mps2", "m/s²": "mps2", "g": "g"}
_GYR_UNITS = {"dps": "dps", "deg/s": "dps", "°/s": "dps", "rps": "rps", "rad/s": "rps"}
_FIX_HEADER = f"the first line must be '{HEADER_LINE}' (or with _g / _rps units; see docs/csv-format.md)"


@dataclass(frozen=True)
class ImuTable:
    """Samples of one sensor read from a CSV file, in SI-ish units."""

    t_s: np.ndarray  # (n,) float64 seconds, strictly increasing
    acc_mps2: np.ndarray  # (n,3)
    gyr_dps: np.ndarray  # (n,3)
    fs_hz: float  # estimated: 1 / median sample interval
    path: str
    acc_unit: str = "mps2"  # unit found in / forced for the file
    gyr_unit: str = "dps"
    ignored_columns: tuple = field(default=())

    @property
    def n(self) -> int:
        return int(self.t_s.shape[0])

    def __len__(self) -> int:
        return self.n


def _norm_unit(value, table, what, path):
    if value is None:
        return None
    v = str(value).strip().lower()
    if v not in table:
        raise ValueError(f"{what} must be one of {sorted(set(table))}, got {value!r}")
    return table[v]


def _parse_header(path, line_no: int, line: str, acc_unit, gyr_unit):
    """Map header names to (time column, scale), acc columns, gyr columns."""
    if "," not in line and (";" in line or "\t" in line):
        sep = "semicolons" if ";" in line else "tabs"
        raise InputFileError(path, f"line {line_no}", f"columns are separated by {sep}",
                             "save the file with commas as separators (" + _FIX_HEADER + ")")
    names = [c.strip().strip('"').strip().lower() for c in line.split(",")]
    time_col, time_scale = None, 1.0
    acc_cols, gyr_cols = {}, {}
    acc_found, gyr_found = set(), set()
    ignored = []
    for i, nm in enumerate(names):
        if nm in ("time_s", "t_s", "time", "t"):
            time_col, time_scale = i, 1.0
            continue
        if nm in ("time_ms", "t_ms"):
            time_col, time_scale = i, 1e-3
            continue
        parts = nm.split("_")
        if len(parts) in (2, 3) and parts[0] in ("acc", "gyr") and parts[1] in AXES:
            unit = parts[2] if len(parts) == 3 else None
            if parts[0] == "acc":
                if unit is not None and unit not in ("mps2", "g"):
                    raise InputFileError(path, f"line {line_no}", f"unknown acceleration unit in column '{nm}'",
                                         "use acc_x_mps2 (m/s²) or acc_x_g (g)")
                acc_cols[parts[1]] = i
                acc_found.add(unit)
            else:
                if unit is not None and unit not in ("dps", "rps"):
                    raise InputFileError(path, f"line {line_no}", f"unknown angular-rate unit in column '{nm}'",
                                         "use gyr_x_dps (deg/s) or gyr_x_rps (rad/s)")
                gyr_cols[parts[1]] = i
                gyr_found.add(unit)
            continue
        ignored.append(nm)
    missing = []
    if time_col is None:
        missing.append("time_s")
    missing += [f"acc_{a}_*" for a in AXES if a not in acc_cols]
    missing += [f"gyr_{a}_*" for a in AXES if a not in gyr_cols]
    if missing:
        try:
            float(names[0])
            problem = "no header line (the first line holds numbers)"
        except ValueError:
            problem = f"header '{line.strip()[:120]}' lacks column(s) {', '.join(missing)}"
        raise InputFileError(path, f"line {line_no}", problem, _FIX_HEADER)
    if len(acc_found) > 1 or len(gyr_found) > 1:
        raise InputFileError(path, f"line {line_no}", "the three axes of a sensor use different units",
                             "use the same unit suffix on x, y and z")
    a_hdr, g_hdr = next(iter(acc_found)), next(iter(gyr_found))
    a_unit = acc_unit or a_hdr
    g_unit = gyr_unit or g_hdr
    if a_unit is None:
        raise InputFileError(path, f"line {line_no}", "the acceleration columns carry no unit",
                             "rename them acc_x_mps2.. or acc_x_g.., or give the unit (acc_unit='g' / --acc-unit g)")
    if g_unit is None:
        raise InputFileError(path, f"line {line_no}", "the gyroscope columns carry no unit",
                             "rename them gyr_x_dps.. or gyr_x_rps.., or give the unit (gyr_unit='rad/s' / --gyr-unit rad/s)")
    return dict(names=names, time_col=time_col, time_scale=time_scale,
                acc_cols=[acc_cols[a] for a in AXES], gyr_cols=[gyr_cols[a] for a in AXES],
                acc_unit=a_unit, gyr_unit=g_unit, ignored=tuple(ignored))


def _locate_problem(path, text_lines, first_data_idx, ncol, names, used_cols, row_problem=None):
    """Scan data lines and raise an InputFileError for the first bad one.

    ``row_problem`` = (data_row_number, message, fix) for a problem found after parsing
    (non-increasing time, NaN): we translate the data row number to the file line.
    """
    row = -1
    for li in range(first_data_idx, len(text_lines)):
        raw = text_lines[li]
        if not raw.strip():
            continue
        row += 1
        line_no = li + 1
        if row_problem is not None:
            if row == row_problem[0]:
                raise InputFileError(path, f"line {line_no}", row_problem[1], row_problem[2])
            continue
        fields_ = raw.rstrip("\r\n").split(",")
        if len(fields_) != ncol:
            fix = "every row needs one value per header column (is the file cut off or mixed?)"
            if len(fields_) > ncol:
                fix = ("every row needs one value per header column (numbers with a decimal comma? "
                       "save the file with '.' as the decimal point)")
            raise InputFileError(path, f"line {line_no}", f"{ncol} columns expected, found {len(fields_)}", fix)
        for ci in used_cols:
            v = fields_[ci].strip().strip('"')
            try:
                x = float(v)
            except ValueError:
                x = None
            if x is None or not math.isfinite(x):
                what = "is empty" if v == "" else f"'{v[:30]}' is not a finite number"
                raise InputFileError(path, f"line {line_no} column {ci + 1} ({names[ci]})", f"value {what}",
                                     "use plain decimal numbers with a '.' decimal point")
    return None


def read_imu_csv(path, acc_unit: str | None = None, gyr_unit: str | None = None) -> ImuTable:
    """Read one thigh's CSV file (see module doc). Bad input raises
    :class:`~imugait.errors.InputFileError` naming the file, line and fix."""
    import pandas as pd

    path = Path(path)
    a_over = _norm_unit(acc_unit, _ACC_UNITS, "acc_unit", path)
    g_over = _norm_unit(gyr_unit, _GYR_UNITS, "gyr_unit", path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, None, "file not found", "check the path and file name") from None
    except IsADirectoryError:
        raise InputFileError(path, None, "is a folder, not a file", "name the CSV file itself") from None
    except OSError as e:
        raise InputFileError(path, None, f"cannot be read ({e.strerror})", "check the file permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_no = data[: e.start].count(b"\n") + 1
        raise InputFileError(path, f"line {line_no}", "is not UTF-8 text",
                             "is this really a CSV file? save it as UTF-8 text") from None
    lines = text.splitlines()
    # header = first line that is neither blank nor a comment
    hdr_idx = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if hdr_idx is None:
        raise InputFileError(path, None, "file is empty (no header, no samples)",
                             f"expected a header line '{HEADER_LINE}' followed by one line per sample")
    h = _parse_header(path, hdr_idx + 1, lines[hdr_idx], a_over, g_over)
    names = h["names"]
    ncol = len(names)
    used = [h["time_col"], *h["acc_cols"], *h["gyr_cols"]]
    n_data = sum(1 for ln in lines[hdr_idx + 1:] if ln.strip())
    if n_data < MIN_SAMPLES:
        raise InputFileError(path, None, f"only {n_data} sample line(s); at least {MIN_SAMPLES} are needed",
                             "is the file complete?")
    body = "\n".join(lines[hdr_idx + 1:])
    try:
        df = pd.read_csv(io.StringIO(body), header=None, names=list(range(ncol)), usecols=used,
                         dtype="float64", engine="c", skip_blank_lines=True, na_filter=True)
        arr = df[used].to_numpy(dtype=np.float64)
        if arr.shape[0] != n_data:
            raise ValueError("row count mismatch")
        # pandas accepts short rows (fills NaN) and silently takes long ones in some modes
        counts = {ln.count(",") for ln in lines[hdr_idx + 1:] if ln.strip()}
        if counts != {ncol - 1}:
            raise ValueError("column count")
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError("nan")
    except (ValueError, pd.errors.ParserError):
        _locate_problem(path, lines, hdr_idx + 1, ncol, names, used)
        raise InputFileError(path, None, "cannot be parsed as the CSV import format", _FIX_HEADER) from None
    t = arr[:, 0] * h["time_scale"]
    acc = arr[:, 1:4].copy()
    gyr = arr[:, 4:7].copy()
    dt = np.diff(t)
    nonpos = np.nonzero(dt <= 0)[0]
    if nonpos.size:
        r = int(nonpos[0]) + 1
        _locate_problem(path, lines, hdr_idx + 1, ncol, names, used,
                        row_problem=(r, f"time {t[r]:.9g} s is not after the previous sample's {t[r - 1]:.9g} s",
                                     "rows must be in time order without duplicates (sort the file, drop repeats)"))
    if h["acc_unit"] == "g":
        acc *= GRAVITY_MPS2
    if h["gyr_unit"] == "rps":
        gyr *= DEG_PER_RAD
    fs = float(1.0 / np.median(dt))
    return ImuTable(t_s=t, acc_mps2=acc, gyr_dps=gyr, fs_hz=fs, path=str(path), acc_unit=h["acc_unit"],
                    gyr_unit=h["gyr_unit"], ignored_columns=h["ignored"])


def write_imu_csv(path, t_s, acc_mps2, gyr_dps, *, acc_unit: str = "mps2", gyr_unit: str = "dps",
                  comments: list[str] | None = None) -> Path:
    """Write one thigh's samples in the import format (atomically: temp file + rename).

    ``acc_unit`` ``"mps2"``/``"g"`` and ``gyr_unit`` ``"dps"``/``"rps"`` choose the units
    written (the header says which). ``comments`` become ``# ...`` lines before the header.
    """
    path = Path(path)
    a_u = _norm_unit(acc_unit, _ACC_UNITS, "acc_unit", path)
    g_u = _norm_unit(gyr_unit, _GYR_UNITS, "gyr_unit", path)
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
    gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
    if not (len(t) == len(acc) == len(gyr)):
        raise ValueError(f"t_s, acc_mps2 and gyr_dps lengths differ: {len(t)}, {len(acc)}, {len(gyr)}")
    if a_u == "g":
        acc = acc / GRAVITY_MPS2
    if g_u == "rps":
        gyr = gyr / DEG_PER_RAD
    header = ",".join(["time_s"] + [f"acc_{a}_{a_u}" for a in AXES] + [f"gyr_{a}_{g_u}" for a in AXES])
    fmt = ["%.6f"] + (["%.7f"] * 3 if a_u == "g" else ["%.5f"] * 3) + (["%.7f"] * 3 if g_u == "rps" else ["%.4f"] * 3)
    pre = "".join(f"# {c}\n" for c in (comments or []))
    with outputs.atomic_open(path, "w", newline="\n") as f:
        f.write(pre)
        np.savetxt(f, np.column_stack([t, acc, gyr]), fmt=fmt, delimiter=",", header=header, comments="")
    return path

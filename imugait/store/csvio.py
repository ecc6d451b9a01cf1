"""CSV import format: one file per thigh, one row per sample.

Documented in ``docs/csv-format.md``. The default header is::

    time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps

What a researcher's folder of files from different loggers holds is read as well:

* **Units** from the column names — a suffix (``acc_x_g``, ``gyr_x_rps``, ``time_ms``) or a
  bracket (``acc_x [m/s^2]``, ``Gyroscope x (rad/s)``, ``Time (s)``): acceleration m/s², g,
  mg; angular rate deg/s, rad/s, mdeg/s; time s, ms, µs, ns. Names are matched without
  regard to case, spaces, ``-``/``.`` separators or CamelCase (``AccX_mps2``,
  ``Acceleration x``, ``gyro_z``, ``timestamp_us``). Unit-less names need the unit given
  (``acc_unit=``/``gyr_unit=`` or ``--acc-unit``/``--gyr-unit``; a unit-less time is
  seconds); a line of units right under the header (``s,m/s^2,…``) is read as the units.
  An explicit unit always overrides the header.
* **Separators**: comma, semicolon or tab (from the header), with a decimal comma when the
  separator is not a comma (``0,981;9,81``); UTF-8 with or without BOM, UTF-16 with BOM,
  Windows-1252 headers; any line endings; trailing empty columns.
* Columns in any order; extra columns are ignored (``ImuTable.ignored_columns``). Lines
  starting with ``#`` before the header are comments; blank lines are skipped.
* Exact duplicate rows (every value equal to the row before: a logger writing a sample
  twice) are dropped and counted; a cut-off **last** line (a logger stopped mid-write) is
  dropped with a warning. Any other malformed line is an error naming the line.
* Time stamps go through :func:`imugait.timebase.fit_timebase` (coarse, batched or jittery
  clocks re-fitted from the sample index, with a warning and a count; time running back
  by more than a sample period is refused with the line). Whether the numbers are
  physically plausible (gravity, angular rate, time unit) is checked by
  :func:`imugait.inputcheck.check_imu` where the data is used (``analyze()``, import).
* Axes are the sensor's own axes (any strap orientation: the analysis calibrates it).

Reading is fast (pandas' C parser); only when something is wrong is the file scanned line
by line to name the exact line, column and problem in an
:class:`imugait.errors.InputFileError`.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import imugait.outputs as outputs
from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2
from imugait.errors import InputFileError
from imugait.inputcheck import ACC_UNITS, GYR_UNITS, TIME_UNITS, ImuData
from imugait.timebase import TimebaseError, fit_timebase

AXES = ("x", "y", "z")
HEADER = ("time_s",) + tuple(f"acc_{a}_mps2" for a in AXES) + tuple(f"gyr_{a}_dps" for a in AXES)
HEADER_LINE = ",".join(HEADER)
MIN_SAMPLES = 10

# spellings of units (lower case) -> our suffix
_UNIT_SPELLINGS = {
    "acc": {"mps2": "mps2", "m/s2": "mps2", "m/s^2": "mps2", "m/s²": "mps2", "ms2": "mps2", "ms^-2": "mps2",
            "m_s2": "mps2", "m_s^2": "mps2", "m/s/s": "mps2", "m*s^-2": "mps2", "m s^-2": "mps2", "m/sec^2": "mps2",
            "g": "g", "mg": "mg"},
    "gyr": {"dps": "dps", "deg/s": "dps", "°/s": "dps", "degps": "dps", "deg_s": "dps", "degs": "dps",
            "deg/sec": "dps", "degree/s": "dps", "degrees/s": "dps", "rps": "rps", "rad/s": "rps", "radps": "rps",
            "rad_s": "rps", "rad/sec": "rps", "rads": "rps", "mdps": "mdps", "mdeg/s": "mdps"},
    "time": {"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s", "ms": "ms", "msec": "ms",
             "millis": "ms", "milliseconds": "ms", "us": "us", "µs": "us", "μs": "us", "usec": "us",
             "microseconds": "us", "ns": "ns", "nsec": "ns", "nanoseconds": "ns"},
}
_ALL_UNITS = {k: v for d in _UNIT_SPELLINGS.values() for k, v in d.items()}
_FACTOR = {"acc": {v[0]: v[1] for v in ACC_UNITS.values()},
           "gyr": {v[0]: v[1] for v in GYR_UNITS.values()},
           "time": {v[0]: v[1] for v in TIME_UNITS.values()}}
_BASE_RE = {
    "time": re.compile(r"^(?:time|t|timestamp|time_stamp|ts|elapsed_time|elapsed)$"),
    "acc": re.compile(r"^(?:acc|accel|accelerometer|acceleration)_?([xyz])$|^([xyz])_?(?:acc|accel|acceleration)$"),
    "gyr": re.compile(r"^(?:gyr|gyro|gyroscope|angular_velocity|angular_rate|angvel|ang_vel|rotation_rate)_?([xyz])$"
                      r"|^([xyz])_?(?:gyr|gyro)$"),
}
_BRACKET = re.compile(r"^(.*?)\s*[\[\(]\s*([^\]\)]*?)\s*[\]\)]\s*$")
_FIX_HEADER = (f"the first line must name the columns, e.g. '{HEADER_LINE}' (units as suffixes _g/_rps/_ms or in "
               "brackets like 'acc_x [g]'; see docs/csv-format.md)")
_USER_UNITS = {"acc": {**_UNIT_SPELLINGS["acc"]}, "gyr": {**_UNIT_SPELLINGS["gyr"]}}


@dataclass(frozen=True, eq=False)
class ImuTable(ImuData):
    """Samples of one sensor read from a CSV file (SI units, re-fitted time base).

    ``t_s`` strictly increasing seconds (see :mod:`imugait.timebase`; ``timebase`` says what
    was re-fitted), ``fs_hz`` the rate of the time base, ``warnings`` what the reader
    noticed (dropped duplicate rows, a cut-off last line, a re-fitted clock)."""

    path: str = ""
    ignored_columns: tuple = ()

    def __len__(self) -> int:
        return self.n


def _norm_unit(value, kind: str, what: str):
    if value is None:
        return None
    v = str(value).strip().lower()
    table = _USER_UNITS[kind]
    if v not in table:
        raise ValueError(f"{what} must be one of {sorted(set(table))}, got {value!r}")
    return table[v]


def classify_column(name: str) -> tuple[str | None, str | None, str | None, str | None]:
    """``(kind, axis, unit_suffix, bad_unit)`` of a header cell: kind ``time``/``acc``/``gyr``
    or ``None`` (ignored column); ``bad_unit`` is a unit text that does not fit the kind."""
    raw = name.strip().strip('"').strip("'").strip()
    # CamelCase -> snake before lower-casing (AccX -> acc_x, GyroZ -> gyro_z)
    raw = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", raw).lower()
    unit_text = None
    m = _BRACKET.match(raw)
    if m:
        raw, unit_text = m.group(1), m.group(2).strip().lower()
    base = re.sub(r"[\s\-\.:]+", "_", raw).strip("_")
    if unit_text is None and "_" in base:
        head, tail = base.rsplit("_", 1)
        if tail in _ALL_UNITS or tail in ("m/s2", "m/s^2"):
            base, unit_text = head, tail
        elif "/" in base:  # acc_x_m/s^2
            for sp in sorted(_ALL_UNITS, key=len, reverse=True):
                if base.endswith("_" + sp):
                    base, unit_text = base[: -len(sp) - 1], sp
                    break
    for kind, rx in _BASE_RE.items():
        mm = rx.match(base)
        if not mm:
            continue
        axis = next((g for g in mm.groups() if g), None) if kind != "time" else None
        if unit_text is None or unit_text == "":
            return kind, axis, None, None
        unit = _UNIT_SPELLINGS[kind].get(unit_text.replace(" ", ""), _UNIT_SPELLINGS[kind].get(unit_text))
        if unit is None:
            return kind, axis, None, unit_text
        return kind, axis, unit, None
    return None, None, None, None


def _split(line: str, sep: str) -> list[str]:
    return line.split(sep) if sep != "ws" else line.split()


def _detect_sep(line: str) -> str:
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    sep, c = max(counts.items(), key=lambda kv: kv[1])
    if c >= 3:
        return sep
    if len(line.split()) >= 4:
        return "ws"
    return ","


def _parse_header(path, line_no: int, line: str, sep: str, acc_unit, gyr_unit, next_line: str | None):
    """Map header names to the time column (+ unit), acc and gyr columns (+ units)."""
    names = [c.strip().strip('"').strip() for c in _split(line, sep)]
    n_hdr = len(names)
    while names and names[-1] == "":
        names.pop()
    cols: dict[str, Any] = {"time": None, "acc": {}, "gyr": {}}
    units: dict[str, set] = {"time": set(), "acc": set(), "gyr": set()}
    ignored = []
    for i, nm in enumerate(names):
        kind, axis, unit, bad = classify_column(nm)
        if bad is not None:
            assert kind is not None  # a unit is judged bad only against a known kind
            what = {"acc": "acceleration", "gyr": "angular-rate", "time": "time"}[kind]
            hint = {"acc": "acc_x_mps2 (m/s²), acc_x_g (g) or acc_x_mg", "gyr": "gyr_x_dps (deg/s), gyr_x_rps (rad/s) "
                    "or gyr_x_mdps", "time": "time_s, time_ms, time_us or time_ns"}[kind]
            raise InputFileError(path, f"line {line_no}", f"unknown {what} unit in column '{nm}'", f"use {hint}")
        if kind is None or (kind == "time" and cols["time"] is not None) or \
                (kind != "time" and axis in cols[kind]):
            if nm:
                ignored.append(nm)
            continue
        if kind == "time":
            cols["time"] = i
        else:
            cols[kind][axis] = i
        units[kind].add((i, unit))
    missing = []
    if cols["time"] is None:
        missing.append("time_s")
    missing += [f"acc_{a}_*" for a in AXES if a not in cols["acc"]]
    missing += [f"gyr_{a}_*" for a in AXES if a not in cols["gyr"]]
    if missing:
        try:
            float(names[0].replace(",", "."))
            problem = "no header line (the first line holds numbers)"
        except (ValueError, IndexError):
            problem = f"header '{line.strip()[:120]}' lacks column(s) {', '.join(missing)}"
        raise InputFileError(path, f"line {line_no}", problem, _FIX_HEADER)
    # a line of units right under the header (s, m/s^2, deg/s ...)
    units_row = False
    if next_line is not None:
        cells = [c.strip().strip('"').strip().lower() for c in _split(next_line, sep)]
        used = [cols["time"], *cols["acc"].values(), *cols["gyr"].values()]
        if len(cells) >= max(used) + 1 and all(cells[i] and cells[i].strip("[]()") in _ALL_UNITS
                                               for i in used):
            units_row = True
            for kind in ("acc", "gyr", "time"):
                fixed = set()
                for i, u in units[kind]:
                    fixed.add((i, u or _UNIT_SPELLINGS[kind].get(cells[i].strip("[]()"))))
                units[kind] = fixed
    found = {k: {u for _i, u in v} for k, v in units.items()}
    for kind in ("acc", "gyr"):
        if len(found[kind]) > 1:
            raise InputFileError(path, f"line {line_no}", "the three axes of a sensor use different units",
                                 "use the same unit on x, y and z")
    a_unit = acc_unit or next(iter(found["acc"]))
    g_unit = gyr_unit or next(iter(found["gyr"]))
    t_unit = next(iter(found["time"])) or "s"
    if a_unit is None:
        raise InputFileError(path, f"line {line_no}", "the acceleration columns carry no unit",
                             "rename them acc_x_mps2.. (m/s²) or acc_x_g.. (g), or give the unit "
                             "(acc_unit='g' / --acc-unit g)")
    if g_unit is None:
        raise InputFileError(path, f"line {line_no}", "the gyroscope columns carry no unit",
                             "rename them gyr_x_dps.. (deg/s) or gyr_x_rps.. (rad/s), or give the unit "
                             "(gyr_unit='rps' / --gyr-unit rps)")
    return dict(names=names, n_hdr=n_hdr, time_col=cols["time"], time_unit=t_unit,
                acc_cols=[cols["acc"][a] for a in AXES], gyr_cols=[cols["gyr"][a] for a in AXES],
                acc_unit=a_unit, gyr_unit=g_unit, ignored=tuple(ignored), units_row=units_row)


_SEP_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "ws": "spaces"}


def _row_problem(line: str, sep: str, n_min: int, n_max: int, names, used_cols, decimal: str):
    """``(where_suffix, problem, fix)`` for one bad data line, or ``None`` if it is fine."""
    fields_ = _split(line, sep)
    if not (n_min <= len(fields_) <= n_max) or any(f.strip() for f in fields_[n_min:]):
        fix = "every row needs one value per header column (is the file cut off or mixed?)"
        other = next((o for o in (",", ";", "\t") if o != sep and line.count(o) >= n_min - 1), None)
        if len(fields_) == 1 and other:
            return "", (f"{n_min} columns expected, found 1: the header separates columns with {_SEP_NAMES[sep]}, "
                        f"this line with {_SEP_NAMES[other]}"), "use one separator throughout the file"
        if len(fields_) > n_max and decimal == ".":
            fix = ("every row needs one value per header column (numbers with a decimal comma? "
                   "save the file with '.' as the decimal point, or separate the columns with ';')")
        return "", f"{n_min} columns expected, found {len(fields_)}", fix
    for ci in used_cols:
        v = fields_[ci].strip().strip('"')
        try:
            x = float(v.replace(",", ".") if decimal == "," else v)
        except ValueError:
            x = None
        if x is None or not math.isfinite(x):
            what = "is empty" if v == "" else f"'{v[:30]}' is not a finite number"
            return (f" column {ci + 1} ({names[ci]})", f"value {what}",
                    f"use plain decimal numbers with a '{decimal}' decimal point")
    return None


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_no = data[: e.start].count(b"\n") + 1
        # only the header (units like '°/s' saved by Excel in Windows-1252)? then read it so
        first_data = next((k for k, ln in enumerate(data.splitlines()) if ln[:1].isdigit() or ln[:1] == b"-"), None)
        if first_data is not None and line_no <= first_data:
            try:
                head = b"\n".join(data.splitlines()[:first_data]).decode("cp1252")
                rest = b"\n".join(data.splitlines()[first_data:]).decode("utf-8")
                return head + "\n" + rest
            except UnicodeDecodeError:
                pass
        raise InputFileError(path, f"line {line_no}", "is not UTF-8 text",
                             "is this really a CSV file? save it as UTF-8 text") from None


def read_imu_csv(path, acc_unit: str | None = None, gyr_unit: str | None = None) -> ImuTable:
    """Read one thigh's CSV file (see module doc). Bad input raises
    :class:`~imugait.errors.InputFileError` naming the file, line and fix."""
    path = Path(path)
    a_over = _norm_unit(acc_unit, "acc", "acc_unit")
    g_over = _norm_unit(gyr_unit, "gyr", "gyr_unit")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, None, "file not found", "check the path and file name") from None
    except IsADirectoryError:
        raise InputFileError(path, None, "is a folder, not a file", "name the CSV file itself") from None
    except OSError as e:
        raise InputFileError(path, None, f"cannot be read ({e.strerror})", "check the file permissions") from None
    lines = _decode(path, data).splitlines()
    # header = first line that is neither blank nor a comment
    hdr_idx = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if hdr_idx is None:
        raise InputFileError(path, None, "file is empty (no header, no samples)",
                             f"expected a header line '{HEADER_LINE}' followed by one line per sample")
    sep = _detect_sep(lines[hdr_idx])
    nxt = next((ln for ln in lines[hdr_idx + 1:] if ln.strip()), None)
    h = _parse_header(path, hdr_idx + 1, lines[hdr_idx], sep, a_over, g_over, nxt)
    names = h["names"]
    n_min, n_max = len(names), h["n_hdr"]
    used = [h["time_col"], *h["acc_cols"], *h["gyr_cols"]]
    data_idx = [i for i in range(hdr_idx + 1, len(lines)) if lines[i].strip()]
    if h["units_row"]:
        data_idx = data_idx[1:]
    # decimal comma: only with ';' or tab separators
    decimal = "."
    if sep != "," and any(re.search(r"\d,\d", lines[i]) for i in data_idx[:20]):
        decimal = ","
    if len(data_idx) < MIN_SAMPLES:
        raise InputFileError(path, None, f"only {len(data_idx)} sample line(s); at least {MIN_SAMPLES} are needed",
                             "is the file complete?")
    warnings = []
    arr = _fast_parse(lines, data_idx, sep, decimal, n_min, n_max, used)
    if arr is None:  # something is wrong: find the first bad line
        bad = None
        for k, li in enumerate(data_idx):
            pr = _row_problem(lines[li], sep, n_min, n_max, names, used, decimal)
            if pr is not None:
                bad = (k, li, pr)
                break
        if bad is None:
            raise InputFileError(path, None, "cannot be parsed as the CSV import format", _FIX_HEADER)
        k, li, (where, problem, fix) = bad
        if k == len(data_idx) - 1 and k >= MIN_SAMPLES:  # a cut-off last line: drop it, say so
            warnings.append(f"{path}: line {li + 1} (the last) is incomplete ({problem}) and was skipped")
            data_idx = data_idx[:-1]
            arr = _fast_parse(lines, data_idx, sep, decimal, n_min, n_max, used)
        if arr is None:
            raise InputFileError(path, f"line {li + 1}{where}", problem, fix)
    line_no = np.asarray(data_idx, dtype=np.int64) + 1
    # exact duplicate rows (a logger writing a sample twice)
    dup = np.zeros(arr.shape[0], dtype=bool)
    dup[1:] = np.all(arr[1:] == arr[:-1], axis=1)
    if dup.any():
        warnings.append(f"{path}: {int(dup.sum())} exact duplicate row(s) dropped (first: line {int(line_no[dup][0])})")
        arr, line_no = arr[~dup], line_no[~dup]
    t_raw = arr[:, 0] * _FACTOR["time"][h["time_unit"]]
    acc = arr[:, 1:4] * _FACTOR["acc"][h["acc_unit"]]
    gyr = arr[:, 4:7] * _FACTOR["gyr"][h["gyr_unit"]]
    try:
        tb = fit_timebase(t_raw)
    except TimebaseError as e:
        where = f"line {int(line_no[e.index])}" if e.index is not None else None
        raise InputFileError(path, where, e.problem, e.fix) from None
    w = tb.report.warning(str(path))
    if w:
        warnings.append(w)
    return ImuTable(t_s=tb.t_s, acc_mps2=acc, gyr_dps=gyr, fs_hz=tb.report.fs_hz, source=str(path), origin="csv",
                    acc_unit=h["acc_unit"], gyr_unit=h["gyr_unit"], time_unit=h["time_unit"],
                    time_column=names[h["time_col"]], timebase=tb.report, line_numbers=line_no,
                    warnings=tuple(warnings), path=str(path), ignored_columns=h["ignored"])


def _fast_parse(lines, data_idx, sep, decimal, n_min, n_max, used):
    """pandas' C parser over the data lines; ``None`` when any line is malformed."""
    if not data_idx:
        return None
    if sep != "ws":
        # pandas fills short rows with NaN and may take long ones: count the separators
        counts = np.fromiter((lines[i].count(sep) for i in data_idx), dtype=np.int64, count=len(data_idx))
        if counts.min() < n_min - 1 or counts.max() > n_max - 1:
            return None
    body = "\n".join(lines[i] for i in data_idx)
    try:
        df = pd.read_csv(io.StringIO(body), header=None, names=list(range(n_max)), usecols=used,
                         sep=r"\s+" if sep == "ws" else sep, decimal=decimal, dtype="float64", engine="c",
                         skip_blank_lines=True, na_filter=True, index_col=False)
        out = df[used].to_numpy(dtype=np.float64)
    except (ValueError, pd.errors.ParserError):
        return None
    if out.shape[0] != len(data_idx) or not np.isfinite(out).all():
        return None
    return out


def write_imu_csv(path, t_s, acc_mps2, gyr_dps, *, acc_unit: str = "mps2", gyr_unit: str = "dps",
                  comments: list[str] | None = None) -> Path:
    """Write one thigh's samples in the import format (atomically: temp file + rename).

    ``acc_unit`` ``"mps2"``/``"g"`` and ``gyr_unit`` ``"dps"``/``"rps"`` choose the units
    written (the header says which). ``comments`` become ``# ...`` lines before the header.
    """
    path = Path(path)
    a_u = _norm_unit(acc_unit, "acc", "acc_unit")
    g_u = _norm_unit(gyr_unit, "gyr", "gyr_unit")
    if a_u not in ("mps2", "g") or g_u not in ("dps", "rps"):
        raise ValueError("write_imu_csv writes acc in mps2 or g and gyr in dps or rps")
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

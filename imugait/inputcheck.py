"""Inputs checked for physics, not only syntax — ONE implementation for every input path.

Every sample stream that enters the analysis or becomes a session passes
:func:`check_imu`: CSV files (``imugait analyze --left``, ``imugait import``), HuGaDB files,
sessions and the Python ``imugait.analysis.analyze()`` API. A file that is well-formed but
in the wrong units must not become confident numbers, so the check asks what the numbers
mean physically (pure numpy; figures measured on the data named below, nothing fitted):

1. **Time.** :func:`imugait.timebase.fit_timebase` re-fits coarse, batched or jittery
   stamps and refuses broken time. The rate it finds must be an IMU rate (10–2000 Hz, the
   analysis' range); otherwise the time unit is named (``time_s`` holding milliseconds
   gives 0.2 Hz at 200 Hz: "looks like milliseconds").
2. **Rate option.** A nominal rate (``--fs``, ``fs_hz=``, a session's configured rate) that
   differs from the time stamps by more than 10 %: refused when a person typed it
   (``--fs 100`` on 200 Hz data would halve every interval), otherwise a warning and the
   time stamps' rate is used.
3. **Absurd values.** Any accelerometer value beyond ±1000 g or gyroscope value beyond
   ±100 000 deg/s is no sensor's reading (a corrupted cell, ``1e308``): refused, naming
   the sample (the file line for CSV files).
4. **Gravity.** The resting acceleration magnitude must be ≈ 9.81 m/s². "Resting" = the
   median magnitude over still windows (0.5 s windows whose magnitude varies by < 2 %,
   at least 1 s of them); without a still period the median magnitude over the whole
   recording is used, which is 9.7–11.3 m/s² in walking and up to 20.4 m/s² in running
   (measured: simulated walking/running, the shipped HuGaDB walk, the Fukuchi treadmill
   runs at 2.5–3.5 m/s). Bands: still 0.85–1.15 g accepted, 0.5–2 g warned (scale or
   calibration off), else refused; moving 0.6–3.5 g accepted, else refused. A refused file
   is named with the unit that would fit (g, mg, cm/s²) — g under an ``_mps2`` header gives
   1.0 instead of 9.81, which the analysis otherwise turns into "valid" strides.
5. **Angular rate.** In moving windows (magnitude varies by > 5 %, at least 2 s) the 95th
   percentile of the gyroscope magnitude is 173–430 deg/s in the data above (thigh swing);
   in rad/s the same movement reads 3–8. Accepted 25–3000 deg/s; outside, the unit that
   fits (rad/s, deg/s, mdeg/s) is named and the file refused. A gyroscope that reads ~0
   while the accelerometer shows movement is refused too (not switched on).

Errors are :class:`imugait.errors.InputFileError` with one sentence naming the source,
the field or line, and the fix in the words of that input path (CSV column names and
``--acc-unit``; ``acc_mps2=`` for the Python API). Warnings are returned in
:attr:`ImuData.warnings` and stored by the callers (``summary.json``, session metadata).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2
from imugait.errors import InputFileError
from imugait.timebase import TimebaseError, TimebaseReport, fit_timebase

MIN_SAMPLES = 10
FS_RANGE_HZ = (10.0, 2000.0)  # GaitPipeline's range
FS_TOLERANCE = 0.10
ACC_ABSURD_MPS2 = 1000.0 * GRAVITY_MPS2
GYR_ABSURD_DPS = 100_000.0
REST_BAND_G = (0.85, 1.15)
REST_WARN_G = (0.5, 2.0)
MOVING_BAND_G = (0.6, 3.5)
GYR_BAND_DPS = (25.0, 3000.0)
GYR_DEAD_DPS = 0.05
SESSION_QUIET_FRACTION = 0.01
STILL_CV = 0.02
MOVING_CV = 0.05

# unit name -> (suffix used in CSV headers / options, factor to SI (m/s², deg/s, s))
ACC_UNITS = {"m/s²": ("mps2", 1.0), "g": ("g", GRAVITY_MPS2), "mg": ("mg", GRAVITY_MPS2 / 1000.0),
             "cm/s²": ("cmps2", 0.01)}
GYR_UNITS = {"deg/s": ("dps", 1.0), "rad/s": ("rps", DEG_PER_RAD), "mdeg/s": ("mdps", 0.001)}
TIME_UNITS = {"s": ("s", 1.0), "ms": ("ms", 1e-3), "µs": ("us", 1e-6), "ns": ("ns", 1e-9)}
_SUFFIX_NAME = {v[0]: k for d in (ACC_UNITS, GYR_UNITS, TIME_UNITS) for k, v in d.items()}


class InputWarning(UserWarning):
    """Input that was usable after a repair (re-fitted clock, dropped duplicates, off scale)."""


def unit_name(suffix: str) -> str:
    """``"mps2"`` -> ``"m/s²"`` (the names used in messages)."""
    return _SUFFIX_NAME.get(suffix, suffix)


@dataclass(frozen=True, eq=False)
class ImuData:
    """Samples of one sensor and where they came from (what the messages need).

    ``origin``: ``"csv"``, ``"hugadb"``, ``"session"`` or ``"api"`` — selects the wording
    of the fix. ``acc_unit``/``gyr_unit``/``time_unit``: the unit suffix the source
    declared (``mps2``/``g``/``mg``; ``dps``/``rps``/``mdps``; ``s``/``ms``/``us``).
    ``line_numbers``: the file line of each sample (CSV), for messages.
    Unpacks as ``t_s, acc_mps2, gyr_dps``.
    """

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_dps: np.ndarray
    fs_hz: float = float("nan")
    source: str = "input"
    origin: str = "api"
    acc_unit: str = "mps2"
    gyr_unit: str = "dps"
    time_unit: str = "s"
    time_column: str = "t_s"
    time_from_index: bool = False  # True: no time stamps, t = index / fs (HuGaDB)
    timebase: TimebaseReport | None = None
    line_numbers: np.ndarray | None = field(default=None, repr=False)
    checks: dict = field(default_factory=dict)
    warnings: tuple = ()
    checked: bool = False

    def __iter__(self):
        return iter((self.t_s, self.acc_mps2, self.gyr_dps))

    def __getitem__(self, i):  # data[0] is t_s, as for the (t_s, acc_mps2, gyr_dps) tuple
        return (self.t_s, self.acc_mps2, self.gyr_dps)[i]

    @property
    def n(self) -> int:
        return int(np.asarray(self.t_s).shape[0])

    def place(self, i: int | None) -> str | None:
        if i is None:
            return None
        if self.line_numbers is not None and 0 <= i < len(self.line_numbers):
            return f"line {int(self.line_numbers[i])}"
        return f"sample {i}"

    def input_info(self) -> dict:
        """What ``summary.json`` stores under ``sides.<side>.input`` (besides pipeline counts)."""
        d = {"source": self.source, "units": {"acc": self.acc_unit, "gyr": self.gyr_unit, "time": self.time_unit},
             "checks": dict(self.checks), "warnings": list(self.warnings)}
        if self.timebase is not None:
            d["timebase"] = self.timebase.to_dict()
        return d


# ------------------------------------------------------------------------ wording of fixes
def _fix_acc(data: ImuData, suffix: str) -> str:
    name = unit_name(suffix)
    if data.origin == "csv":
        if suffix in ("mps2", "g", "mg"):
            return (f"rename the acceleration columns acc_x_{suffix}, acc_y_{suffix}, acc_z_{suffix} "
                    f"(or give --acc-unit {suffix})")
        return f"convert the acceleration columns to m/s² ({name} × {ACC_UNITS[name][1]:g})"
    if data.origin == "api":
        return f"pass acc_mps2 in m/s² (values in {name} × {ACC_UNITS[name][1]:g})"
    if data.origin == "hugadb":
        return "is this an unmodified HuGaDB v1 file (16384 counts per g)?"
    return "the session stores a wrong accelerometer scale — re-import the source file with the right unit"


def _fix_gyr(data: ImuData, suffix: str) -> str:
    name = unit_name(suffix)
    if data.origin == "csv":
        return (f"rename the angular-rate columns gyr_x_{suffix}, gyr_y_{suffix}, gyr_z_{suffix} "
                f"(or give --gyr-unit {suffix})")
    if data.origin == "api":
        return f"pass gyr_dps in deg/s (values in {name} × {GYR_UNITS[name][1]:g})"
    if data.origin == "hugadb":
        return "is this an unmodified HuGaDB v1 file (16.4 counts per deg/s)?"
    return "the session stores a wrong gyroscope scale — re-import the source file with the right unit"


def _fix_time(data: ImuData, suffix: str) -> str:
    if data.origin == "csv":
        return f"name the time column time_{suffix} (the header says {data.time_column})"
    if data.origin == "api":
        return f"pass t_s in seconds (values in {unit_name(suffix)} × {TIME_UNITS[unit_name(suffix)][1]:g})"
    return "the time stamps of this source are not in the unit it declares"


# ------------------------------------------------------------------------ measurements
def _windows(x: np.ndarray, w: int) -> np.ndarray:
    nb = x.shape[0] // w
    return x[: nb * w].reshape(nb, w)


def _norm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x))


def rest_acceleration(acc_mps2: np.ndarray, fs_hz: float, a_norm: np.ndarray | None = None) -> tuple[float, str, float]:
    """(magnitude, basis, seconds of still data): median magnitude over still windows, or
    over everything (``basis = "moving"``) when there is less than 1 s of still windows."""
    a = _norm(acc_mps2) if a_norm is None else a_norm
    a = a[np.isfinite(a)]
    if a.size == 0:
        return float("nan"), "none", 0.0
    w = max(4, int(round(0.5 * fs_hz)))
    A = _windows(a, w)
    if A.shape[0]:
        mean = A.mean(axis=1)
        cv = A.std(axis=1) / np.where(mean > 0, mean, np.inf)
        still = cv < STILL_CV
        still_s = float(still.sum() * w / fs_hz)
        if still_s >= 1.0:
            return float(np.median(mean[still])), "still", still_s
    return float(np.median(a)), "moving", 0.0


def moving_gyro_p95(acc_mps2: np.ndarray, gyr_dps: np.ndarray, fs_hz: float,
                    a_norm: np.ndarray | None = None) -> tuple[float, float]:
    """(95th percentile of |gyro| in windows where |acc| varies by > 5 %, seconds of such windows)."""
    a = _norm(acc_mps2) if a_norm is None else a_norm
    g = _norm(gyr_dps)
    ok = np.isfinite(a) & np.isfinite(g)
    if not ok.all():
        a, g = a[ok], g[ok]
    w = max(4, int(round(0.5 * fs_hz)))
    A, G = _windows(a, w), _windows(g, w)
    if A.shape[0] == 0:
        return float("nan"), 0.0
    mean = A.mean(axis=1)
    cv = A.std(axis=1) / np.where(mean > 0, mean, np.inf)
    moving = cv > MOVING_CV
    moving_s = float(moving.sum() * w / fs_hz)
    if not moving.any():
        return float("nan"), 0.0
    return float(np.percentile(G[moving], 95)), moving_s


def _which_unit(value_si: float, declared_factor: float, units: dict, band) -> str | None:
    """The unit (name) in which the raw numbers would give a value inside ``band``."""
    raw = value_si / declared_factor
    for name, (_suffix, f) in units.items():
        if f == declared_factor:
            continue
        if band[0] <= raw * f <= band[1]:
            return name
    return None


# ------------------------------------------------------------------------ the check
def as_imu_data(data, source: str = "input", fs_hz: float | None = None) -> ImuData:
    """An ``ImuData`` from an ``ImuData`` or a ``(t_s, acc_mps2, gyr_dps)`` tuple (Python API)."""
    if isinstance(data, ImuData):
        return data
    t, acc, gyr = data
    return ImuData(t_s=t, acc_mps2=acc, gyr_dps=gyr, fs_hz=float(fs_hz) if fs_hz else float("nan"),
                   source=source, origin="api")


def check_fs_value(fs_hz, what: str = "--fs") -> float:
    """A sample rate typed by a person: finite and within 10–2000 Hz, else one sentence."""
    try:
        f = float(fs_hz)
    except (TypeError, ValueError):
        raise InputFileError(what, None, f"{fs_hz!r} is not a number",
                             f"give the sample rate in Hz between {FS_RANGE_HZ[0]:g} and {FS_RANGE_HZ[1]:g}, e.g. 200") from None
    if not math.isfinite(f) or not (FS_RANGE_HZ[0] <= f <= FS_RANGE_HZ[1]):
        raise InputFileError(what, None, f"{fs_hz!r} is not a sample rate imugait can analyse",
                             f"give the rate in Hz between {FS_RANGE_HZ[0]:g} and {FS_RANGE_HZ[1]:g} (e.g. 200), "
                             "or leave it out to take it from the time stamps")
    return f


def check_imu(data: ImuData, fs_hz: float | None = None, fs_typed: bool = False) -> ImuData:
    """Check one sensor's samples (module doc); returns them with a usable time base, the
    rate to analyse at, measured figures (``checks``) and warnings. Raises
    :class:`InputFileError` with one sentence for input that would give wrong numbers.

    ``fs_hz``: a nominal rate to cross-check (``fs_typed``: a person typed it, so a
    mismatch is refused rather than warned about). Checking twice does the work once."""
    if not data.checked:
        data = _check(data)
    if fs_hz is not None:
        data = _cross_check_rate(data, fs_hz, fs_typed)
    return data


def _cross_check_rate(data: ImuData, fs_hz, fs_typed: bool) -> ImuData:
    src = data.source
    nominal = check_fs_value(fs_hz, "--fs" if fs_typed else f"{src}: sample rate")
    if data.time_from_index or data.timebase is None:
        return data
    fs = data.timebase.fs_hz
    if abs(nominal / fs - 1.0) <= FS_TOLERANCE:
        return replace(data, fs_hz=nominal)
    what = f"the time stamps say {fs:.5g} Hz ({data.timebase.n_samples} samples in {data.timebase.n_samples / fs:.1f} s)"
    if fs_typed:
        raise InputFileError(src, None, f"--fs {nominal:g} Hz disagrees with the data: {what}",
                             "leave out --fs (the time stamps set the rate) or fix the time column")
    w = f"{src}: nominal rate {nominal:g} Hz disagrees with {what}; analysed at {fs:.5g} Hz"
    return replace(data, fs_hz=fs, warnings=data.warnings + (w,))


def _check(data: ImuData) -> ImuData:
    t = np.asarray(data.t_s, dtype=np.float64).reshape(-1)
    acc = np.asarray(data.acc_mps2, dtype=np.float64)
    gyr = np.asarray(data.gyr_dps, dtype=np.float64)
    src = data.source
    if acc.ndim != 2 or acc.shape[1:] != (3,) or gyr.ndim != 2 or gyr.shape[1:] != (3,) or \
            not (t.shape[0] == acc.shape[0] == gyr.shape[0]):
        raise InputFileError(src, None, f"time, acceleration and angular rate do not match in shape "
                             f"({t.shape}, {acc.shape}, {gyr.shape})",
                             "give t_s as (n,), acc_mps2 and gyr_dps as (n, 3) arrays of the same n")
    if t.shape[0] < MIN_SAMPLES:
        raise InputFileError(src, None, f"only {t.shape[0]} sample(s); at least {MIN_SAMPLES} are needed",
                             "is the recording complete?")
    warnings = list(data.warnings)
    # 1. time
    tb = data.timebase
    if data.time_from_index:
        fs = check_fs_value(data.fs_hz, f"{src}: sample rate")
    else:
        if tb is None:
            try:
                fit = fit_timebase(t)
            except TimebaseError as e:
                raise InputFileError(src, data.place(e.index), e.problem, e.fix) from None
            t, tb = fit.t_s, fit.report
            w = tb.warning(src)
            # a recorded session's times are already clock-mapped: a few samples while the
            # mapping settles at the start are re-timed quietly (counted in input.timebase)
            quiet = data.origin == "session" and tb.n_retimed <= SESSION_QUIET_FRACTION * tb.n_samples
            if w and not quiet:
                warnings.append(w)
        fs = tb.fs_hz
        if not (FS_RANGE_HZ[0] <= fs <= FS_RANGE_HZ[1]):
            factor = TIME_UNITS.get(unit_name(data.time_unit), ("s", 1.0))[1]
            guess: tuple[str, str] | None = None
            for name, (suffix, f) in TIME_UNITS.items():
                if f != factor and FS_RANGE_HZ[0] <= fs * factor / f <= FS_RANGE_HZ[1]:
                    guess = (name, suffix)
                    break
            span = f"{tb.n_samples} samples over {tb.n_samples / fs:.6g} {unit_name(data.time_unit)}"
            if guess:
                raise InputFileError(src, data.time_column, f"the time stamps give {fs:.4g} samples per second "
                                     f"({span} as declared); the values look like {guess[0]}",
                                     _fix_time(data, guess[1]))
            raise InputFileError(src, data.time_column, f"the time stamps give {fs:.4g} samples per second, "
                                 f"not an IMU rate ({FS_RANGE_HZ[0]:g}–{FS_RANGE_HZ[1]:g} Hz)",
                                 "check that this column is the time in the declared unit")
    checks: dict = {"fs_hz": fs}
    # 3. absurd values
    finite = np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
    n_nonfinite = int((~finite).sum())
    checks["n_nonfinite"] = n_nonfinite
    if n_nonfinite:
        warnings.append(f"{src}: {n_nonfinite} sample(s) with missing (non-finite) values are skipped")
    for arr, lim, what, unit in ((acc, ACC_ABSURD_MPS2, "acceleration", "m/s²"),
                                 (gyr, GYR_ABSURD_DPS, "angular rate", "deg/s")):
        if float(np.max(np.abs(arr), initial=0.0, where=np.isfinite(arr))) <= lim:
            continue
        big = np.abs(np.where(np.isfinite(arr), arr, 0.0)) > lim
        if big.any():
            i, j = map(int, np.argwhere(big)[0])
            raw = arr[i, j]
            raise InputFileError(src, data.place(i), f"{what} value {raw:.4g} {unit} ({'xyz'[j]} axis) is beyond any "
                                 f"sensor's range (±{lim:.4g} {unit})",
                                 "a corrupted value? correct or delete that sample")
    if finite.sum() < MIN_SAMPLES:
        raise InputFileError(src, None, "fewer than 10 samples with finite values", "is the recording complete?")
    a_f, g_f = (acc, gyr) if n_nonfinite == 0 else (acc[finite], gyr[finite])
    a_norm = _norm(a_f)
    # 4. gravity
    rest, basis, still_s = rest_acceleration(a_f, fs, a_norm)
    checks.update(rest_acc_mps2=rest, rest_basis=basis, still_s=still_s)
    r = rest / GRAVITY_MPS2
    band = REST_BAND_G if basis == "still" else MOVING_BAND_G
    a_factor = ACC_UNITS.get(unit_name(data.acc_unit), ("mps2", 1.0))[1]
    if not (band[0] <= r <= band[1]):
        what = "at rest" if basis == "still" else "over the recording (no still period)"
        problem = (f"the acceleration magnitude {what} is {rest:.4g} m/s² as declared "
                   f"({unit_name(data.acc_unit)}), where gravity alone gives 9.81")
        if basis == "still" and REST_WARN_G[0] <= r <= REST_WARN_G[1]:
            warnings.append(f"{src}: {problem}: the accelerometer's scale or calibration is off by "
                            f"{100 * (r - 1):+.0f} % (angles stay valid; check the sensor's range setting)")
        else:
            unit_guess = _which_unit(rest, a_factor, ACC_UNITS,
                                (band[0] * GRAVITY_MPS2, band[1] * GRAVITY_MPS2))
            if unit_guess:
                raise InputFileError(src, None, f"{problem}; the values look like {unit_guess}",
                                     _fix_acc(data, ACC_UNITS[unit_guess][0]))
            raise InputFileError(src, None, f"{problem}; no common unit fits (raw sensor counts?)",
                                 "convert the acceleration to m/s² (counts × the sensor's m/s² per count)")
    # 5. angular rate
    p95, moving_s = moving_gyro_p95(a_f, g_f, fs, a_norm)
    checks.update(gyr_p95_moving_dps=p95, moving_s=moving_s)
    if moving_s >= 2.0 and math.isfinite(p95):
        g_factor = GYR_UNITS.get(unit_name(data.gyr_unit), ("dps", 1.0))[1]
        if p95 < GYR_DEAD_DPS:
            raise InputFileError(src, None, f"the gyroscope reads {p95:.3g} deg/s while the accelerometer shows "
                                 f"{moving_s:.0f} s of movement", "is the gyroscope switched on and its column the right one?")
        if not (GYR_BAND_DPS[0] <= p95 <= GYR_BAND_DPS[1]):
            problem = (f"the angular rate during movement reaches {p95:.4g} deg/s as declared "
                       f"({unit_name(data.gyr_unit)}; 95th percentile), where a moving thigh gives "
                       f"{GYR_BAND_DPS[0]:g}–{GYR_BAND_DPS[1]:g}")
            unit_guess = _which_unit(p95, g_factor, GYR_UNITS, (40.0, 2500.0))
            if unit_guess:
                raise InputFileError(src, None, f"{problem}; the values look like {unit_guess}",
                                     _fix_gyr(data, GYR_UNITS[unit_guess][0]))
            raise InputFileError(src, None, f"{problem}; no common unit fits",
                                 "convert the angular rate to deg/s")
    return replace(data, t_s=t, acc_mps2=acc, gyr_dps=gyr, fs_hz=fs, timebase=tb, checks=checks,
                   warnings=tuple(warnings), checked=True)

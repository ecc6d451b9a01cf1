"""Numbers the dashboard shows, computed from the pipeline's strides — no Qt here.

Every function returns ``None`` when it does not have the data for an honest number; the
dashboard then shows "—" (or says why). Nothing here re-detects strides: the values are
the :class:`~imugait.analysis.results.StrideResult` fields the pipeline produced.

L/R balance
-----------
``balance_pct = 100 · L / (L + R)`` of the per-side running medians (the way runners know
ground-contact-time balance from Garmin/Stryd: "50.8 % L"). It is additive-symmetric to the
log ratio used in the analysis summary: ``ln(L/R) ≈ 4 · (balance − 50 %)`` for small
differences, so 2 percentage points ≈ 8 % L/R difference.

Colour bands (``BALANCE_BANDS_PP``, distance from 50 % in percentage points):

* **symmetric** < 2 pp (L/R differ by < ≈ 8 %, Robinson symmetry index < 8 %);
* **notable** 2–5 pp (≈ 8–20 %);
* **large** ≥ 5 pp (> ≈ 20 %).

Rationale: able-bodied gait is not perfectly symmetric — Herzog et al. (1989, Med Sci
Sports Exerc 21:110) found symmetry indices of several percent up to ≈ 10 % in normal gait,
and ≈ 10 % SI is the threshold clinical gait studies commonly use for "asymmetric"
(reviewed by Sadeghi et al. 2000, Gait Posture 12:34). With a thigh-IMU the measurement
adds to that: thigh-derived contact events carry ≈ 20 ms errors (gait notes), i.e. ≈ 8 %
of a 250 ms running stance, which a 20-stride median mostly but not fully averages out.
So < 2 pp is "within normal variation + sensor error", 2–5 pp is worth a look and a
re-check of strap placement, ≥ 5 pp is large by any of these standards.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from imugait.analysis.metrics import METRICS
from imugait.analysis.results import StrideResult
from imugait.analysis.summary import balance_left_pct

BAR_METRICS: tuple[tuple[str, str, str], ...] = tuple(
    (m, METRICS[m].short, METRICS[m].value_unit) for m in ("rom_deg", "swing_pct", "stance_s"))
"""(StrideResult field, label, unit of the value) of the per-stride bar charts, in display
order — selected from the one metric table :data:`imugait.analysis.metrics.METRICS`."""

N_BARS = 20
"""Strides per side shown as bars and used for the running medians."""

MIN_STRIDES_FOR_MEDIAN = 3
"""Valid strides a side needs before a running median (and balance) is shown."""

BALANCE_BANDS_PP: tuple[float, float] = (2.0, 5.0)
"""|balance − 50 %| below the first value is "symmetric", below the second "notable",
otherwise "large". See the module docstring for the rationale."""

CADENCE_STALE_S = 3.0
"""No cadence or gait type is shown when the last stride closed longer ago than this."""


def valid_strides(strides: Iterable[StrideResult], n: int = N_BARS) -> list[StrideResult]:
    """The newest ``n`` valid strides, oldest first."""
    v = [s for s in strides if s.valid]
    return v[-n:] if n else v


def metric_values(strides: Sequence[StrideResult], metric: str) -> np.ndarray:
    return np.array([float(getattr(s, metric)) for s in strides], dtype=np.float64)


def running_median(strides: Iterable[StrideResult], metric: str, n: int = N_BARS,
                   min_n: int = MIN_STRIDES_FOR_MEDIAN) -> float | None:
    """Median of ``metric`` over the newest ``n`` valid strides; None with fewer than ``min_n``."""
    vals = metric_values(valid_strides(strides, n), metric)
    vals = vals[np.isfinite(vals)]
    if vals.size < min_n:
        return None
    return float(np.median(vals))


def balance_pct(left: float | None, right: float | None) -> float | None:
    """``100 · L / (L + R)``; None unless both are finite and positive."""
    if left is None or right is None:
        return None
    if not (math.isfinite(left) and math.isfinite(right)) or left <= 0 or right <= 0:
        return None
    return float(balance_left_pct(left, right))  # the analysis' own formula


def balance_band(balance: float | None, bands: tuple[float, float] = BALANCE_BANDS_PP) -> str | None:
    """"symmetric" | "notable" | "large" (None when there is no balance)."""
    if balance is None or not math.isfinite(balance):
        return None
    d = abs(balance - 50.0)
    if d < bands[0]:
        return "symmetric"
    if d < bands[1]:
        return "notable"
    return "large"


def balance_text(balance: float | None) -> str:
    """"50.0 %", "51.3 % L", "52.0 % R" (the larger side named), or "—"."""
    if balance is None:
        return "—"
    if abs(balance - 50.0) < 0.05:
        return "50.0 %"
    if balance > 50.0:
        return f"{balance:.1f} % L"
    return f"{100.0 - balance:.1f} % R"


def _recent(strides: Iterable[StrideResult], t_now_s: float, stale_s: float) -> list[StrideResult]:
    v = [s for s in strides if s.valid]
    if not v or not math.isfinite(t_now_s):
        return []
    if t_now_s - max(s.next_ic_s for s in v) > stale_s:
        return []
    return v


def cadence_spm(left: Iterable[StrideResult], right: Iterable[StrideResult], t_now_s: float,
                n: int = 10, stale_s: float = CADENCE_STALE_S) -> float | None:
    """Median per-stride cadence (steps/min) of the newest ``n`` valid strides of each side.

    None when no valid stride closed within ``stale_s`` of ``t_now_s`` (subject stopped)."""
    vals: list[float] = []
    for strides in (left, right):
        rec = _recent(strides, t_now_s, stale_s)[-n:]
        vals.extend(float(s.cadence_spm) for s in rec if math.isfinite(s.cadence_spm))
    if not vals:
        return None
    return float(np.median(vals))


def gait_type(left: Iterable[StrideResult], right: Iterable[StrideResult], t_now_s: float,
              n: int = 6, stale_s: float = CADENCE_STALE_S) -> str | None:
    """Majority ``gait`` ("walk"/"run") of the newest ``n`` valid strides of each side."""
    labels: list[str] = []
    for strides in (left, right):
        rec = _recent(strides, t_now_s, stale_s)[-n:]
        labels.extend(s.gait for s in rec if s.gait)
    if not labels:
        return None
    return Counter(labels).most_common(1)[0][0]


def side_medians(strides: Iterable[StrideResult], n: int = N_BARS) -> dict[str, float | None]:
    strides = list(strides)
    return {m: running_median(strides, m, n) for m, _label, _unit in BAR_METRICS}


def balances(left: Iterable[StrideResult], right: Iterable[StrideResult], n: int = N_BARS) -> dict[str, float | None]:
    """Balance % per bar metric from the running medians of both sides."""
    ml, mr = side_medians(left, n), side_medians(right, n)
    return {m: balance_pct(ml[m], mr[m]) for m, _l, _u in BAR_METRICS}

"""What the comparison needs from one analysed session — a plain container, no I/O.

``SessionData`` can be built from an HDF5 session (:func:`imugait.compare.api.load_session`)
or directly from a strides DataFrame (notebooks, tests, other tools' output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from imugait.analysis.summary import pair_strides


@dataclass
class SessionData:
    """One analysed session.

    ``strides``: DataFrame with at least ``side, ic_s`` and the metric columns
    (``imugait.analysis.results.STRIDE_COLUMNS``); ``valid`` (bool) if present filters.
    ``cycles[side]``: ``(n_strides, 101)`` thigh angle over the normalised gait cycle.
    ``calibration[side]``: dict with any of ``neutral_deg``, ``flexion_axis`` (3-vector,
    sensor frame), ``long_axis`` (3-vector), ``calibrated`` (bool).
    ``meta``: session metadata (subject, condition, created, speed_mps, ...).
    ``flexor``: the hip-flexor test result (``flexor_test.json`` dict) when the session holds one.
    """

    name: str
    strides: pd.DataFrame
    cycles: dict[str, np.ndarray] = field(default_factory=dict)
    calibration: dict[str, dict] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    flexor: dict | None = None

    def valid_strides(self, side: str | None = None) -> pd.DataFrame:
        df = self.strides
        if "valid" in df.columns:
            df = df[df["valid"].astype(bool)]
        if side is not None:
            df = df[df["side"] == side]
        if "ic_s" in df.columns:
            df = df.sort_values("ic_s", kind="stable")
        return df

    @property
    def sides(self) -> list[str]:
        return [s for s in ("left", "right") if (self.strides["side"] == s).any()]


def pair_left_right(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Left/right stride pairs, by the analysis' own pairing rule
    (:func:`imugait.analysis.summary.pair_strides`: each left stride with the right stride
    that begins inside it), so the comparison's asymmetry uses exactly the pairs of the
    analysis summary. Returns ``ic_s`` (left) and the ``*_l``/``*_r`` columns of both
    strides, one row per pair."""
    if left.empty or right.empty:
        return pd.DataFrame()
    L = left.reset_index(drop=True)
    R = right.reset_index(drop=True)
    for df in (L, R):
        if "valid" not in df.columns:
            df["valid"] = True
        if "next_ic_s" not in df.columns:
            df["next_ic_s"] = df["ic_s"] + df["stride_s"]
    pairs = pair_strides(L, R)
    if not pairs:
        return pd.DataFrame()
    lsel = L.loc[[a for a, _b in pairs]].reset_index(drop=True)
    rsel = R.loc[[b for _a, b in pairs]].reset_index(drop=True)
    out = pd.DataFrame({"ic_s": lsel["ic_s"].to_numpy(float)})
    for c in ("rom_deg", "stance_s", "swing_pct", "swing_s", "stride_s", "flex_peak_deg", "ext_peak_deg"):
        if c in lsel.columns and c in rsel.columns:
            out[c + "_l"] = lsel[c].to_numpy(float)
            out[c + "_r"] = rsel[c].to_numpy(float)
    if "bout_index" in lsel.columns:
        out["bout_index"] = lsel["bout_index"].to_numpy()
    return out

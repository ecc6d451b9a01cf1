"""Hand-computed summaries, pairing and asymmetry indices."""

import math

import numpy as np
import pandas as pd

from imugait.analysis.summary import asymmetry, describe, pair_strides


def _strides(side, ics, rom, swing_pct, flex, valid=None):
    n = len(ics) - 1
    return pd.DataFrame({
        "side": side, "stride_index": range(n), "ic_s": ics[:-1], "next_ic_s": ics[1:],
        "stride_s": np.diff(ics), "cadence_spm": 120 / np.diff(ics), "stance_s": 0.6 * np.diff(ics),
        "swing_s": 0.4 * np.diff(ics), "swing_pct": swing_pct, "rom_deg": rom, "flex_peak_deg": flex,
        "ext_peak_deg": np.array(flex) - np.array(rom), "valid": valid if valid is not None else [True] * n,
        "reason": "", "bout_index": 0, "gait": "walk",
    })


def test_describe():
    d = describe([1, 2, 3, 4, np.nan])
    assert d["median"] == 2.5 and d["n"] == 4 and d["iqr"] == 1.5
    assert math.isclose(d["cv_pct"], 100 * np.std([1, 2, 3, 4], ddof=1) / 2.5)
    assert describe([])["n"] == 0 and describe([])["median"] is None


def test_pairing_and_indices():
    L = _strides("left", [0.0, 1.0, 2.0, 3.0], rom=[44.0, 44.0, 44.0], swing_pct=[42.0] * 3, flex=[30.0] * 3)
    R = _strides("right", [0.5, 1.5, 2.5, 3.5], rom=[40.0, 40.0, 40.0], swing_pct=[40.0] * 3, flex=[27.0] * 3)
    pairs = pair_strides(L, R)
    assert pairs == [(0, 0), (1, 1), (2, 2)]
    a = asymmetry(L, R)
    assert a["n_pairs"] == 3
    m = a["metrics"]
    assert math.isclose(m["rom_deg"]["ln_ratio_pct"], 100 * math.log(44 / 40))
    assert math.isclose(m["rom_deg"]["balance_left_pct"], 100 * 44 / 84)
    assert math.isclose(m["swing_pct"]["ln_ratio_pct"], 100 * math.log(42 / 40))
    assert math.isclose(m["flex_peak_deg"]["diff_deg"], 3.0)
    assert math.isclose(m["ext_peak_deg"]["diff_deg"], (30 - 44) - (27 - 40))
    # ln ratio is antisymmetric: swapping legs flips the sign exactly
    b = asymmetry(R.assign(side="left"), L.assign(side="right"))
    assert math.isclose(b["metrics"]["rom_deg"]["ln_ratio_pct"], -m["rom_deg"]["ln_ratio_pct"])


def test_invalid_strides_are_not_paired():
    L = _strides("left", [0.0, 1.0, 2.0], rom=[44.0, 44.0], swing_pct=[42.0] * 2, flex=[30.0] * 2, valid=[True, False])
    R = _strides("right", [0.5, 1.5, 2.5], rom=[40.0, 40.0], swing_pct=[40.0] * 2, flex=[27.0] * 2)
    assert pair_strides(L, R) == [(0, 0)]
    assert asymmetry(L.iloc[:0], R)["n_pairs"] == 0

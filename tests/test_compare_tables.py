"""Comparison on plain stride tables: verdicts, warnings, MDC, JSON and HTML outputs."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from imugait.compare import CompareParams, SessionData, compare
from imugait.compare.data import pair_left_right

REQUIRED = {"side", "metric", "before_median", "after_median", "diff", "ci_low", "ci_high", "effect_size", "verdict"}


def strides(seed, n=200, rom=50.0, left_shift=0.0, cad=170.0, bouts=2):
    rng = np.random.default_rng(seed)
    rows = []
    for side, off in (("left", 0.0), ("right", 0.35)):
        stride = 120.0 / cad + rng.normal(0, 0.008, n)
        ic = np.cumsum(stride) + off
        r = rom + (left_shift if side == "left" else 0.0) + rng.normal(0, 1.5, n)
        stance = 0.26 + rng.normal(0, 0.01, n)
        for i in range(n):
            rows.append(dict(side=side, stride_index=i, ic_s=ic[i], to_s=ic[i] + stance[i], next_ic_s=ic[i] + stride[i],
                             stride_s=stride[i], cadence_spm=120.0 / stride[i], stance_s=stance[i],
                             swing_s=stride[i] - stance[i], swing_pct=100 * (stride[i] - stance[i]) / stride[i],
                             flex_peak_deg=35 + r[i] - rom, ext_peak_deg=-15 + rng.normal(0, 1), rom_deg=r[i],
                             valid=True, reason="", bout_index=i * bouts // n, gait="run"))
    return pd.DataFrame(rows)


CP = CompareParams(n_boot=500, seed=1)


def row(cmp, side, metric):
    t = cmp.table
    return t[(t.side == side) & (t.metric == metric)].iloc[0]


def test_plus5_on_left_is_detected_and_right_is_not():
    c = compare([SessionData("b", strides(1))], [SessionData("a", strides(2, left_shift=5.0))], CP)
    left = row(c, "left", "rom_deg")
    assert left.significant and left.ci_low > 0 and left.ci_low < 5 < left.ci_high + 0.5
    assert "Left hip range increased by" in left.verdict and "95 % CI" in left.verdict
    right = row(c, "right", "rom_deg")
    assert not right.significant and "no clear change" in right.verdict
    asym = row(c, "both", "asym_rom_pct")
    assert asym["diff"] == pytest.approx(100 * math.log(55 / 50), abs=2.5)
    # one baseline session with two bouts -> MDC from the bouts
    assert "bouts" in left.mdc_source and left.mdc95 > 0
    assert left.exceeds_mdc


def test_metrics_json_has_required_fields_and_no_nan(tmp_path):
    tiny = strides(3, n=1)
    c = compare([SessionData("b", strides(1))], [SessionData("a", tiny)], CP)
    d = c.to_dict()
    assert d["metrics"] and all(REQUIRED <= set(m) for m in d["metrics"])
    assert any(m["verdict_code"] == "insufficient_data" for m in d["metrics"])
    c.to_json(tmp_path / "c.json")  # allow_nan=False: would raise on NaN
    back = json.loads((tmp_path / "c.json").read_text())
    assert back["schema"] == "imugait.comparison/1"
    assert any(w["kind"] == "few_strides" for w in back["warnings"])


def test_two_baseline_sessions_give_test_retest_mdc():
    c = compare([SessionData("b1", strides(1)), SessionData("b2", strides(4))],
                [SessionData("a", strides(2, left_shift=1.0))], CP)
    r = row(c, "left", "rom_deg")
    assert r.mdc_source.startswith("2 baseline sessions")
    assert r.n_before == 400


def test_cadence_warning_only_above_three_percent():
    b = SessionData("b", strides(1, cad=170))
    c = compare([b], [SessionData("a", strides(2, cad=178))], CP)
    w = [x for x in c.warnings if x["kind"] == "cadence_differs"]
    assert w and w[0]["diff_pct"] == pytest.approx(100 * (178 - 170) / 170, abs=0.6)
    c2 = compare([b], [SessionData("a", strides(2, cad=172))], CP)
    assert not [x for x in c2.warnings if x["kind"] == "cadence_differs"]


def test_speed_warning_from_metadata():
    b = SessionData("b", strides(1), meta={"speed_mps": 3.0})
    a = SessionData("a", strides(2), meta={"speed_mps": 3.3})
    kinds = [w["kind"] for w in compare([b], [a], CP).warnings]
    assert "speed_differs" in kinds and "speed_unknown" not in kinds


def test_restrapping_is_detected_from_calibration():
    cal = {"long_axis": [1.0, 0.0, 0.0], "flexion_axis": [0.0, 0.0, 1.0], "angle_calibrated": True}
    moved = {"long_axis": [0.9, 0.436, 0.0], "flexion_axis": [0.0, 0.0, -1.0], "angle_calibrated": True}
    b = SessionData("b", strides(1), calibration={"left": cal, "right": cal})
    same = SessionData("a", strides(2), calibration={"left": cal, "right": dict(cal, flexion_axis=[0, 0.05, -1.0])})
    kinds = [w["kind"] for w in compare([b], [same], CP).warnings]
    assert "restrapped" not in kinds  # sign of the flexion axis and 3° do not count
    c = compare([b], [SessionData("a", strides(2), calibration={"left": moved, "right": cal})], CP)
    w = [x for x in c.warnings if x["kind"] == "restrapped"]
    assert len(w) == 1 and w[0]["side"] == "left" and w[0]["long_axis_change_deg"] == pytest.approx(25.8, abs=0.5)
    assert "re-strapped" in row(c, "left", "flex_peak_deg").caution


def test_pair_left_right():
    L = pd.DataFrame({"ic_s": [0.0, 1.0, 2.0], "next_ic_s": [1.0, 2.0, 3.0], "rom_deg": [50, 52, 54.0]})
    R = pd.DataFrame({"ic_s": [0.5, 2.6], "next_ic_s": [1.5, 3.6], "rom_deg": [40, 44.0]})
    p = pair_left_right(L, R)
    assert list(p["ic_s"]) == [0.0, 2.0]
    assert list(p["rom_deg_l"]) == [50, 54] and list(p["rom_deg_r"]) == [40, 44]


def test_report_html_is_self_contained(tmp_path):
    cyc = {"left": np.tile(np.sin(np.linspace(0, 6.28, 101)), (20, 1)), "right": np.zeros((20, 101))}
    c = compare([SessionData("b", strides(1), cycles=cyc)], [SessionData("a", strides(2, left_shift=5), cycles=cyc)], CP)
    path = c.write(tmp_path)
    html = path.read_text()
    assert "width=device-width" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.index("Key results") < html.index("All metrics")
    for f in ("comparison.json", "comparison.csv", "fig_cycles.png", "fig_forest.png", "fig_distributions.png",
              "fig_timecourse.png", "fig_asymmetry.png"):
        assert (tmp_path / f).stat().st_size > 1000, f


def test_different_sensors_widen_angle_intervals_and_warn():
    """Two sensors' own calibration errors (gyro scale ≈ 1 %) do not cancel in a
    difference: the ROM interval widens by ≈ √2 · 1 % of the range, timing does not."""
    from imugait.compare.comparison import sensor_change

    def sd(name, seed, devs, **kw):
        return SessionData(name, strides(seed, **kw), meta={"sensors": devs})

    same = {"left": "A-L", "right": "A-R"}
    c_same = compare([sd("b", 1, same)], [sd("a", 2, same)], CP)
    c_diff = compare([sd("b", 1, same)], [sd("a", 2, {"left": "B-L", "right": "A-R"})], CP)
    w = lambda c, side, m: row(c, side, m).ci_high - row(c, side, m).ci_low  # noqa: E731
    assert row(c_same, "left", "rom_deg").sensor_sd == 0
    expect = math.sqrt(2) * 0.01 * row(c_diff, "left", "rom_deg").before_median
    assert row(c_diff, "left", "rom_deg").sensor_sd == pytest.approx(expect, rel=1e-6)
    assert w(c_diff, "left", "rom_deg") > 1.8 * w(c_same, "left", "rom_deg")  # + 0.7° SD on a ≈ 0.4° SD
    assert w(c_diff, "right", "rom_deg") == pytest.approx(w(c_same, "right", "rom_deg"))  # right sensor kept
    assert w(c_diff, "left", "stance_s") == pytest.approx(w(c_same, "left", "stance_s"))  # timing: no scale
    assert row(c_diff, "both", "asym_rom_pct").sensor_sd == pytest.approx(math.sqrt(2) * 1.0)
    assert "different sensors" in row(c_diff, "left", "rom_deg").caution
    kinds = [x["kind"] for x in c_diff.warnings]
    assert kinds.count("different_sensors") == 1 and "different_sensors" not in [x["kind"] for x in c_same.warnings]
    # unknown device ids (e.g. CSV imports) count as the same sensor; mixtures are weighted
    unknown = [SessionData("u", strides(1))]
    assert sensor_change(unknown, [sd("a", 2, same)], "left") == 0.0
    two = [sd("b1", 1, same), sd("b2", 3, {"left": "B-L", "right": "A-R"})]
    assert sensor_change(two, [sd("a", 2, same)], "left") == pytest.approx(0.5)


def test_guard_band_reports_the_wider_interval_and_the_exact_one_beside_it():
    b, a = [SessionData("b", strides(1))], [SessionData("a", strides(2, left_shift=1.0))]
    guarded = row(compare(b, a, CP), "left", "rom_deg")
    exact = row(compare(b, a, CompareParams(n_boot=500, seed=1, guard_level=None)), "left", "rom_deg")
    assert guarded.ci_low < guarded.ci_low_exact < guarded.ci_high_exact < guarded.ci_high
    ratio = (guarded.ci_high - guarded.ci_low) / (guarded.ci_high_exact - guarded.ci_low_exact)
    assert 1.05 < ratio < 1.3  # 97.5 % vs 95 % percentile interval: ≈ 2.24/1.96
    assert (exact.ci_low, exact.ci_high) == (exact.ci_low_exact, exact.ci_high_exact)
    assert (exact.ci_low_exact, exact.ci_high_exact) == (guarded.ci_low_exact, guarded.ci_high_exact)
    assert CP.to_dict()["ci_level"] == 0.975

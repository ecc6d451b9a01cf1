"""Comparison on plain stride tables: verdicts, warnings, MDC, JSON and HTML outputs."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imugait.compare import CompareParams, SessionData, compare
from imugait.compare.budget import leg_regime, load_budget, sensor_identity
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
    same = SessionData("a", strides(2), calibration={"left": cal, "right": dict(cal, flexion_axis=[0, 0.035, -1.0])})
    kinds = [w["kind"] for w in compare([b], [same], CP).warnings]
    assert "restrapped" not in kinds  # sign of the flexion axis and 2° do not count
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


CAL = {"long_axis": [0.0, 1.0, 0.0], "flexion_axis": [0.0, 0.0, 1.0], "still_found": True, "calibrated": True}
TURNED = dict(CAL, long_axis=[math.sin(math.radians(20)), math.cos(math.radians(20)), 0.0])  # strap turned 20°
SAME = {"left": "A-L", "right": "A-R"}


def placed(name, seed, devs=SAME, cal_left=CAL, cal_right=CAL, **kw):
    """A stride-table session that names its sensors and stores their strap calibration."""
    return SessionData(name, strides(seed, **kw), meta={"sensors": devs} if devs else {},
                       calibration={"left": cal_left, "right": cal_right})


def test_placement_regime_per_leg_and_why():
    b = [placed("b", 1)]
    kept = leg_regime(b, [placed("a", 2)], "left")
    assert kept.regime == "kept_on" and kept.sensor == "same" and kept.calibration.status == "unchanged"
    assert "stayed on" in kept.reason
    turned = leg_regime(b, [placed("a", 2, cal_left=TURNED)], "left")
    assert turned.regime == "restrapped" and turned.calibration.long_axis_change_deg == pytest.approx(20, abs=0.01)
    assert "taken off and put back" in turned.reason and "20°" in turned.reason
    swapped = leg_regime(b, [placed("a", 2, devs={"left": "B-L", "right": "A-R"})], "left")
    assert swapped.regime == "restrapped" and swapped.sensor == "different"
    assert leg_regime(b, [placed("a", 2, devs={"left": "B-L", "right": "A-R"})], "right").regime == "kept_on"
    # no sensor identity (CSV import): unknown, so the re-strapped budget — unless the user says otherwise
    unknown = leg_regime(b, [placed("a", 2, devs=None)], "left")
    assert unknown.regime == "restrapped" and unknown.sensor == "unknown" and "cannot tell" in unknown.reason
    stated = leg_regime(b, [placed("a", 2, devs=None)], "left", assume_kept_on=True)
    assert stated.regime == "kept_on" and stated.assumed
    # ... but a statement never overrides the data
    assert leg_regime(b, [placed("a", 2, devs=None, cal_left=TURNED)], "left", assume_kept_on=True).regime == "restrapped"
    # a flexion axis found with the other sign, or 2° off, is the same strap; standing vs moving is not comparable
    flipped = dict(CAL, flexion_axis=[0.0, 0.035, -1.0])
    assert leg_regime(b, [placed("a", 2, cal_left=flipped)], "left").regime == "kept_on"
    moving = dict(CAL, still_found=False)
    r = leg_regime(b, [placed("a", 2, cal_left=moving)], "left")
    assert r.regime == "restrapped" and r.calibration.status == "unknown" and "standing calibration" in r.reason
    # two baseline sessions with one sensor each: not one sensor throughout
    two = [placed("b1", 1), placed("b2", 3, devs={"left": "B-L", "right": "A-R"})]
    assert sensor_identity(two, [placed("a", 2)], "left") == "different"
    assert sensor_identity(two, [placed("a", 2)], "right") == "same"


def test_budget_widens_angle_intervals_by_regime_not_timing():
    """Kept on: analysis and temperature errors only. Re-strapped or swapped: + strap placement
    and the gyroscope's own scale error (≈ 1 % of the range). Stride time carries neither."""
    budget = load_budget()
    b = [placed("b", 1)]
    kept = compare(b, [placed("a", 2)], CP)
    moved = compare(b, [placed("a", 2, cal_left=TURNED)], CP)
    swapped = compare(b, [placed("a", 2, devs={"left": "B-L", "right": "A-R"})], CP)
    w = lambda c, side, m: row(c, side, m).ci_high - row(c, side, m).ci_low  # noqa: E731
    k = row(kept, "left", "rom_deg")
    assert k.regime == "kept_on" and k.placement_sd == 0 and k.sensor_sd == 0
    mb, ma = k.before_median, k.after_median
    temp = budget.metric("rom_deg").component("gyro_scale_temperature").sd_rel
    analysis = budget.metric("rom_deg").component("analysis").sd
    expect = math.sqrt(2 * analysis ** 2 + (temp * mb) ** 2 + (temp * ma) ** 2)
    assert k.measurement_sd == pytest.approx(expect, rel=0.02)  # + κ·diff, diff ≈ 0
    m = row(moved, "left", "rom_deg")
    assert m.regime == "restrapped" and m.placement_sd == pytest.approx(math.sqrt(2) * 1.0)
    scale = math.sqrt((0.01 * m.before_median) ** 2 + (0.01 * m.after_median) ** 2)
    assert m.sensor_sd == pytest.approx(scale, rel=1e-6)
    assert m.measurement_mdc95 == pytest.approx(1.96 * math.sqrt(expect ** 2 + 2.0 + scale ** 2), rel=0.02)
    assert w(moved, "left", "rom_deg") > 3 * w(kept, "left", "rom_deg")
    assert w(moved, "right", "rom_deg") == pytest.approx(w(kept, "right", "rom_deg"))  # right sensor kept on
    assert w(moved, "left", "stride_s") == pytest.approx(w(kept, "left", "stride_s"))  # no placement term
    s = row(swapped, "left", "rom_deg")
    assert s.sensor_sd == pytest.approx(math.sqrt((0.01 * mb) ** 2 + (0.01 * ma) ** 2), rel=1e-6)
    assert row(swapped, "both", "asym_rom_pct").sensor_sd == pytest.approx(math.sqrt(2) * 1.0, rel=0.05)
    assert "re-strapped budget" in s.caution and "not comparable" in row(swapped, "left", "flex_peak_deg").caution
    kinds = [x["kind"] for x in swapped.warnings]
    assert kinds.count("different_sensors") == 1 and "restrapped" not in kinds
    assert [x["kind"] for x in moved.warnings].count("restrapped") == 1
    info = [x for x in kept.warnings if x["kind"] == "sensors_kept_on"]
    assert info and info[0]["severity"] == "info" and info[0]["sides"] == ["left", "right"]
    # stride tables without sensor identity: the re-strapped budget, said in a warning per leg
    plain = compare([SessionData("b", strides(1))], [SessionData("a", strides(2))], CP)
    assert {x["side"] for x in plain.warnings if x["kind"] == "placement_unknown"} == {"left", "right"}
    assert row(plain, "left", "rom_deg").regime == "restrapped"
    assumed = compare([SessionData("b", strides(1))], [SessionData("a", strides(2))],
                      CompareParams(n_boot=500, seed=1, assume_kept_on=True))
    assert row(assumed, "left", "rom_deg").regime == "kept_on"


def test_restrapped_hip_range_change_below_its_mdc_reads_no_clear_change(tmp_path):
    b = [placed("b", 1)]
    moved = compare(b, [placed("a", 2, cal_left=TURNED, left_shift=1.5)], CP)
    r = row(moved, "left", "rom_deg")
    assert r.verdict_code == "no_clear_change" and abs(r["diff"]) < r.measurement_mdc95
    assert "no clear change — re-strapping alone moves hip range by up to" in r.verdict
    assert "Keep the sensors on" in r.verdict and "mark the strap position" in r.verdict
    w = next(x for x in moved.warnings if x["kind"] == "restrapped")
    assert "robust" not in w["message"] and f"{r.measurement_mdc95:.1f}°" in w["message"]
    kept = row(compare(b, [placed("a", 2, left_shift=1.5)], CP), "left", "rom_deg")
    assert kept.verdict_code.startswith("increased") and "re-strapping" not in kept.verdict
    d = moved.to_dict()
    assert d["regimes"]["left"]["regime"] == "restrapped" and d["regimes"]["right"]["regime"] == "kept_on"
    assert d["error_budget"]["tolerances_deg"]["flexion_axis"] > 0 and d["error_budget"]["provisional"] == []
    assert all("regime" in m for m in d["metrics"])
    html = Path(moved.write(tmp_path, figures=False)).read_text()
    assert "Sensor placement" in html and "Left leg: sensor re-strapped" in html and "Right leg: sensor stayed on" in html
    assert "re-strapping alone moves hip range by up to" in html


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

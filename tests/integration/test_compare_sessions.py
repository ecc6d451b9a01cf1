"""compare on real HDF5 sessions (simulated runs written by the session writer), API and CLI."""

import json

import pytest
from cli_helper import run_cli
from repo_paths import TEST_DATA

from imugait.compare import api
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig, simulate

RUN = SimConfig(gait="run", duration_s=60, speed_mps=3.0, sensor_seed=5)  # one sensor pair throughout


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    b1 = simulate(RUN.replace(seed=11))
    b2 = simulate(RUN.replace(seed=12))
    a = simulate(RUN.replace(seed=13, asym_rom_deg=5.0))
    return {
        "b1": write_sim_session(d / "pre" / "b1.h5", b1, {"subject_id": "S1", "condition": "pre"}),
        "b2": write_sim_session(d / "pre" / "b2.h5", b2, {"subject_id": "S1", "condition": "pre"}),
        "a": write_sim_session(d / "post" / "a.h5", a, {"subject_id": "S1", "condition": "post"}),
        "dir": d,
    }


def test_api_compare_two_baselines_detects_left_plus5(sessions, tmp_path):
    cmp = api.compare_sessions([sessions["b1"], sessions["b2"]], sessions["a"], out_dir=tmp_path)
    t = cmp.table
    left = t[(t.side == "left") & (t.metric == "rom_deg")].iloc[0]
    right = t[(t.side == "right") & (t.metric == "rom_deg")].iloc[0]
    assert left.significant and abs(left["diff"] - 5.0) < 1.0
    assert left.mdc_source.startswith("2 baseline sessions")
    assert "day-to-day change" in left.verdict
    assert not right.significant
    assert not [w for w in cmp.warnings if w["kind"] in ("cadence_differs", "speed_differs", "restrapped")]
    assert cmp.report_path == tmp_path / "report.html"
    # cycles came through from the analysis: ensemble figure present
    assert all(s.cycles["left"].shape[1] == 101 for s in cmp.before)


def test_sessions_of_one_sensor_pair_are_compared_as_such(sessions):
    """Device ids reach the comparison; the same sensors add no sensor error, others do."""
    b1, a = api.load_session(sessions["b1"]), api.load_session(sessions["a"])
    assert b1.meta["sensors"] == a.meta["sensors"] and b1.meta["sensors"]["left"].startswith("SIM-L-")
    from imugait.compare import compare

    c = compare([b1], [a])
    assert not [w for w in c.warnings if w["kind"] == "different_sensors"]
    assert (c.table["sensor_sd"] == 0).all()
    other = simulate(RUN.replace(seed=14, sensor_seed=6))
    o = api.load_session(write_sim_session(sessions["dir"] / "other" / "o.h5", other))
    c2 = compare([b1], [o])
    assert {w["side"] for w in c2.warnings if w["kind"] == "different_sensors"} == {"left", "right"}


def test_same_recording_twice_and_walking_vs_running_are_warned(sessions, tmp_path):
    import shutil

    from imugait.compare import compare

    copy = tmp_path / "copy_of_b1.h5"
    shutil.copyfile(sessions["b1"], copy)
    b1 = api.load_session(sessions["b1"])
    kinds = [w["kind"] for w in compare([b1], [api.load_session(copy)]).warnings]
    assert "same_recording" in kinds  # a copied file is the same raw data
    assert "same_recording" not in [w["kind"] for w in compare([b1], [api.load_session(sessions["a"])]).warnings]
    walk = simulate(SimConfig(gait="walk", duration_s=60, speed_mps=1.3, sensor_seed=5, seed=15))
    w = api.load_session(write_sim_session(tmp_path / "walk.h5", walk))
    gw = [x for x in compare([b1], [w]).warnings if x["kind"] == "gait_differs"]
    assert gw and gw[0]["before_run_pct"] > 90 and gw[0]["after_run_pct"] < 10
    assert not [x for x in compare([b1], [api.load_session(sessions["a"])]).warnings if x["kind"] == "gait_differs"]


def test_a_failed_sensor_is_named_not_blamed_on_a_short_run(sessions):

    from imugait.compare import compare
    from imugait.store.hugadb import read_hugadb

    r = read_hugadb(TEST_DATA / "hugadb" / "HuGaDB_v1_walking_14_00_excerpt.txt")
    bad = api.analyze_arrays("corrupted", left=r.imu("left"), right=r.imu("right"))
    w = compare([api.load_session(sessions["b1"])], [bad]).warnings
    failed = [x for x in w if x["kind"] == "sensor_failed"]
    assert {(x["side"], x["condition"]) for x in failed} == {("left", "after"), ("right", "after")}
    assert "gyroscope data implausible" in failed[0]["message"]
    assert not [x for x in w if x["kind"] in ("few_strides", "restrapped")]
    assert not [x for x in w if x["kind"] == "calibration_missing" and x["condition"] == "after"]


def test_mixing_runners_is_warned(sessions):
    from imugait.compare import compare

    b1, a = api.load_session(sessions["b1"]), api.load_session(sessions["a"])
    assert not [w for w in compare([b1], [a]).warnings if w["kind"] == "subjects_differ"]  # S1 and S1
    a.meta["subject_id"] = "S2"
    w = [x for x in compare([b1], [a]).warnings if x["kind"] == "subjects_differ"]
    assert w and w[0]["before_subjects"] == ["S1"] and w[0]["after_subjects"] == ["S2"]
    a.meta["subject_id"] = ""  # unknown: nothing to say
    assert not [w for w in compare([b1], [a]).warnings if w["kind"] == "subjects_differ"]


def test_a_leg_recorded_in_one_condition_only_is_named(sessions):
    import dataclasses

    from imugait.compare import compare

    b1, a = api.load_session(sessions["b1"]), api.load_session(sessions["a"])
    left_only = dataclasses.replace(b1, strides=b1.strides[b1.strides.side == "left"],
                                    calibration={k: v for k, v in b1.calibration.items() if k == "left"},
                                    meta={**b1.meta, "sensors": {"left": b1.meta["sensors"]["left"]}})
    c = compare([left_only], [a])
    w = [x for x in c.warnings if x["kind"] == "side_missing"]
    assert [(x["side"], x["only_in"]) for x in w] == [("right", "after")]
    assert set(c.table.side) == {"left"}
    # recorded, but no strides (a session too short to analyse): said as such
    no_right = dataclasses.replace(b1, strides=b1.strides[b1.strides.side == "left"])
    c = compare([no_right], [a])
    w = [x for x in c.warnings if x["kind"] == "side_no_strides"]
    assert [(x["side"], x["only_in"]) for x in w] == [("right", "after")] and "too short" in w[0]["message"]


def test_load_strides_has_metadata_columns(sessions):
    df = api.load_strides([sessions["dir"] / "pre"], params={"rom_floor_deg": 12.0})
    assert list(df.columns[:len(api.META_COLUMNS)]) == list(api.META_COLUMNS)
    assert set(df.session) == {"b1", "b2"} and set(df.subject_id) == {"S1"}
    assert df.params_sha256.nunique() == 1
    df2 = api.load_strides(sessions["b1"])
    assert df2.params_sha256.iloc[0] != df.params_sha256.iloc[0]


def test_bad_params_name_is_a_clear_error(sessions, tmp_path):
    from imugait.errors import ImugaitError

    with pytest.raises(ImugaitError, match="rom_flor_deg"):
        api.load_strides(sessions["b1"], params={"rom_flor_deg": 12.0})
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(ImugaitError, match="p.json"):
        api.analysis_params(bad)


def test_cli_compare_positional_and_options(sessions, tmp_path, capsys):
    out = tmp_path / "o1"
    assert run_cli(["compare", sessions["b1"], sessions["a"], "--out", out, "--n-boot", "300", "--no-figures"]) == 0
    text = capsys.readouterr().out
    assert "Left hip range increased" in text and "Report:" in text
    d = json.loads((out / "comparison.json").read_text())
    assert len(d["before"]) == 1 and d["params"]["n_boot"] == 300
    out2 = tmp_path / "o2"
    assert run_cli(["compare", "--before", sessions["dir"] / "pre", "--after", sessions["a"],
                    "--out", out2, "--n-boot", "300", "--no-figures"]) == 0
    d2 = json.loads((out2 / "comparison.json").read_text())
    assert len(d2["before"]) == 2
    assert d["params"]["ci_level"] == 0.975  # guard band on by default
    out3 = tmp_path / "o3"
    assert run_cli(["compare", sessions["b1"], sessions["a"], "--out", out3, "--n-boot", "300", "--no-figures",
                    "--exact-ci"]) == 0
    d3 = json.loads((out3 / "comparison.json").read_text())
    assert d3["params"]["guard_level"] is None and d3["params"]["ci_level"] == 0.95
    m3 = next(m for m in d3["metrics"] if m["side"] == "left" and m["metric"] == "rom_deg")
    assert m3["ci_low"] == m3["ci_low_exact"]


def test_cli_compare_usage_errors(sessions, tmp_path):
    assert run_cli(["compare", sessions["b1"]]) != 0
    assert run_cli(["compare", sessions["b1"], tmp_path / "missing.h5"]) == 1


def test_restrapped_sensor_is_flagged_from_the_real_calibration():
    from imugait.compare import compare
    from imugait.compare.simdata import sim_arrays

    cfg = SimConfig(gait="run", duration_s=45, speed_mps=3.0)
    b = sim_arrays(simulate(cfg.replace(seed=21)))
    a = sim_arrays(simulate(cfg.replace(seed=22, strap="random")))  # both sensors strapped anew
    sb = api.analyze_arrays("before", left=b["left"], right=b["right"])
    sa = api.analyze_arrays("after", left=a["left"], right=a["right"])
    c = compare([sb], [sa])
    moved = {w["side"] for w in c.warnings if w["kind"] == "restrapped"}
    assert moved == {"left", "right"}
    t = c.table
    assert "not comparable" in t[(t.side == "left") & (t.metric == "flex_peak_deg")].iloc[0]["caution"]
    # same sensors, same straps: no warning
    b2 = sim_arrays(simulate(cfg.replace(seed=23)))
    c2 = compare([sb], [api.analyze_arrays("again", left=b2["left"], right=b2["right"])])
    assert not [w for w in c2.warnings if w["kind"] == "restrapped"]

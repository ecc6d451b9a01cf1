"""imugait report: one-page runner report; drift over the run is found, balance is reported."""

import json

import numpy as np
import pandas as pd
import pytest
from repo_paths import TEST_DATA

from imugait.compare import SessionData
from imugait.compare.runner_report import balance, drift, per_minute, write_runner_report
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig


def test_report_finds_a_slowdown_and_asymmetry(tmp_path):
    # 4 min run that slows from 3.6 to 2.6 m/s after 2 min ("fatigue"), left hip range +4°
    cfg = SimConfig(gait="run", duration_s=240, speed_mps=3.6, speed_changes=((120.0, 2.6),), asym_rom_deg=4.0, seed=5)
    path = write_sim_session(tmp_path / "run.h5", cfg, {"subject_id": "R9"})
    from imugait.cli import main

    try:
        main(["report", str(path), "--out", str(tmp_path / "rep")])
    except SystemExit as e:
        assert not e.code
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "width=device-width" in html and "data:image/png;base64," in html and "<script" not in html
    data = json.loads((tmp_path / "rep" / "runner_report.json").read_text())
    rom = {d["side"]: d for d in data["drift"] if d["metric"] == "rom_deg"}
    cad = {d["side"]: d for d in data["drift"] if d["metric"] == "cadence_spm"}
    assert rom["left"]["clear"] and rom["left"]["diff"] < -2.0 and "fell" in rom["left"]["text"]
    assert cad["right"]["clear"] and cad["right"]["diff"] < 0
    bal = {b["metric"]: b for b in data["balance"]}
    assert bal["rom_deg"]["balance_left_pct"] > 51.0 and "more on the left" in bal["rom_deg"]["text"]
    pm = pd.read_csv(tmp_path / "rep" / "per_minute.csv")
    assert set(pm.side) == {"left", "right"} and pm.minute.max() >= 3


def test_report_functions_on_a_steady_table(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    rows = []
    for side in ("left", "right"):
        ic = np.arange(n) * 0.7
        rows.append(pd.DataFrame({"side": side, "ic_s": ic, "next_ic_s": ic + 0.7, "valid": True,
                                  "rom_deg": 50 + rng.normal(0, 1.5, n), "cadence_spm": 171 + rng.normal(0, 1, n),
                                  "stance_s": 0.26 + rng.normal(0, 0.01, n), "swing_pct": 62 + rng.normal(0, 1, n),
                                  "stride_s": 0.7}))
    sd = SessionData("steady", pd.concat(rows, ignore_index=True))
    assert not any(d["clear"] for d in drift(sd) if d["metric"] == "rom_deg")
    b = {x["metric"]: x for x in balance(sd)}
    assert b["rom_deg"]["balance_left_pct"] == pytest.approx(50.0, abs=0.5) and "even" in b["rom_deg"]["text"]
    assert len(per_minute(sd)) == 2 * 3  # 140 s -> minutes 0, 1, 2 per side
    p = write_runner_report(sd, tmp_path)
    assert p.exists() and (tmp_path / "trend.png").exists()


def test_report_on_a_session_without_strides(tmp_path):
    sd = SessionData("empty", pd.DataFrame({"side": [], "ic_s": [], "valid": []}))
    p = write_runner_report(sd, tmp_path)
    assert "No valid strides" in p.read_text()


def test_report_names_a_failed_sensor_instead_of_blaming_the_runner(tmp_path):
    """HuGaDB's corrupted-gyro excerpt (committed): both thigh calibrations fail."""

    from imugait.compare import api
    from imugait.store.hugadb import read_hugadb

    r = read_hugadb(TEST_DATA / "hugadb" / "HuGaDB_v1_walking_14_00_excerpt.txt")
    sd = api.analyze_arrays("corrupted", left=r.imu("left"), right=r.imu("right"))
    assert all(c["failed"] for c in sd.calibration.values())
    html = write_runner_report(sd, tmp_path).read_text()
    assert "Left sensor: calibration failed" in html and "Right sensor: calibration failed" in html
    assert "was the sensor worn on the thigh" not in html and "too short" not in html

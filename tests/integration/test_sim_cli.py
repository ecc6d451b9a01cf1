"""`imugait simulate` writes CSVs in the import format plus truth.json, readable by csvio."""

import json

import numpy as np
import pytest
from cli_helper import run_cli

from imugait.store.csvio import read_imu_csv


def test_simulate_cli_writes_readable_csvs_and_truth(tmp_path, capsys):
    out = tmp_path / "sim"
    code = run_cli(["simulate", "--gait", "run", "--duration", "20", "--out", str(out), "--seed", "3",
                    "--asym-rom", "4", "--strap", "random"])
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("left.csv", "right.csv", "truth.json"):
        assert (out / name).exists()
        assert name in printed
    truth = json.loads((out / "truth.json").read_text())
    assert truth["config"]["gait"] == "run" and truth["config"]["asym_rom_deg"] == 4.0
    for side in ("left", "right"):
        tab = read_imu_csv(out / f"{side}.csv")
        assert tab.fs_hz == pytest.approx(200.0, rel=1e-3)
        assert tab.n == truth["sides"][side]["n_samples"]
        assert tab.t_s[0] >= 0 and tab.t_s[-1] <= 20.0
        # standing at the start: |acc| ~ g
        still = tab.t_s < 4
        assert np.linalg.norm(tab.acc_mps2[still], axis=1).mean() == pytest.approx(9.81, rel=0.03)
        strides = truth["sides"][side]["strides"]
        assert len(strides) >= 12
        assert all(tab.t_s[0] <= s["ic_s"] <= tab.t_s[-1] for s in strides)


def test_simulate_cli_one_side_and_units(tmp_path):
    out = tmp_path / "one"
    code = run_cli(["simulate", "--gait", "walk", "--duration", "12", "--out", str(out), "--sides", "right",
                    "--fs", "100", "--acc-unit", "g", "--gyr-unit", "rps"])
    assert code == 0
    assert not (out / "left.csv").exists()
    tab = read_imu_csv(out / "right.csv")
    assert tab.acc_unit == "g" and tab.gyr_unit == "rps"
    assert tab.fs_hz == pytest.approx(100.0, rel=1e-3)
    assert np.linalg.norm(tab.acc_mps2[:200], axis=1).mean() == pytest.approx(9.81, rel=0.03)


def test_simulate_cli_rejects_bad_side(tmp_path):
    assert run_cli(["simulate", "--out", str(tmp_path / "x"), "--sides", "middle"]) != 0
    assert not (tmp_path / "x").exists()


def test_simulate_cli_stops_turns_speed_changes(tmp_path):
    out = tmp_path / "w"
    code = run_cli(["simulate", "--gait", "walk", "--duration", "40", "--out", str(out), "--stop", "20:5",
                    "--turn", "12:90", "--turn", "30:-90:3", "--speed-change", "32:1.6", "--ideal", "--sides", "left",
                    "--soft-tissue", "1"])
    assert code == 0
    truth = json.loads((out / "truth.json").read_text())
    cfg = truth["config"]
    assert cfg["stops"] == [[20.0, 5.0]] and cfg["turns"] == [[12.0, 90.0, 2.0], [30.0, -90.0, 3.0]]
    assert cfg["speed_changes"] == [[32.0, 1.6]] and cfg["sensor_errors"] is False
    assert cfg["soft_tissue_deg"] == 1.0
    ics = [s["ic_s"] for s in truth["sides"]["left"]["strides"]]
    assert not any(20.5 < t < 24.5 for t in ics)
    assert run_cli(["simulate", "--out", str(tmp_path / "bad"), "--stop", "3"]) != 0


def test_simulate_cli_runs_share_one_sensor_pair_unless_told(tmp_path):
    """Different runs (seeds) of `imugait simulate` are recorded with the same simulated
    sensors by default — like one runner's kit — so before/after pairs compare like real ones."""
    truths = {}
    for name, extra in (("a", ["--seed", "1"]), ("b", ["--seed", "2"]), ("c", ["--seed", "2", "--sensor-seed", "7"])):
        assert run_cli(["simulate", "--duration", "3", "--out", str(tmp_path / name), *extra]) == 0
        truths[name] = json.loads((tmp_path / name / "truth.json").read_text())["sides"]["left"]
    a, b, c = (truths[k] for k in "abc")
    assert a["sensor_info"]["device_id"] == b["sensor_info"]["device_id"] != c["sensor_info"]["device_id"]
    assert a["sensor_params"]["gyr_scale_factor"] == b["sensor_params"]["gyr_scale_factor"]
    assert a["sensor_params"]["gyr_scale_factor"] != c["sensor_params"]["gyr_scale_factor"]

"""``imugait flexor-test`` end to end: CSV files in the documented import format (another
rate, units from the header), a session round trip (the /flexor_test group), the guided
mode with a simulated runner through the virtual sensors, refusals, and ``compare``."""

import json

import numpy as np
import pytest
from cli_helper import run_cli

from imugait.analysis.flexor import FLEXOR_ALGORITHM_VERSION, protocol_steps
from imugait.compare.flexor import change_interval
from imugait.sim.flexor import FlexorSimConfig, random_test, simulate_flexor, stand, supine, thomas_protocol
from imugait.store import open_session
from imugait.store.csvio import write_imu_csv


def write_csvs(rec, folder, acc_unit="mps2", gyr_unit="dps"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for s, S in rec.sides.items():
        paths[s] = write_imu_csv(folder / f"{s}.csv", S.t_true_s, S.acc_mps2, S.gyr_dps, acc_unit=acc_unit,
                                 gyr_unit=gyr_unit)
    return paths


@pytest.fixture(scope="module")
def test_rec():
    return random_test(101, fs_hz=75.0)


def test_csv_input_writes_the_documented_json(tmp_path, test_rec, capsys):
    p = write_csvs(test_rec, tmp_path / "in", acc_unit="g", gyr_unit="rps")
    out = tmp_path / "out"
    assert run_cli(["flexor-test", "--left", p["left"], "--right", p["right"], "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "Thomas test:" in printed and "wrote" in printed
    d = json.loads((out / "flexor_test.json").read_text())
    assert d["schema"] == "imugait.flexor_test/1" and d["algorithm_version"] == FLEXOR_ALGORITHM_VERSION
    truth = test_rec.side_truth()
    for s in ("left", "right"):
        side = d["sides"][s]
        assert len(side["holds"]) == 3
        assert side["thigh_below_horizontal_deg"] == pytest.approx(
            truth[s]["thigh_below_horizontal_standing_ref_deg"], abs=2.0)
        assert side["thigh_below_horizontal_deg"] == pytest.approx(np.median([h["value"] for h in side["holds"]]),
                                                                   abs=0.01)
        for h in side["holds"]:
            assert set(h) >= {"start_s", "end_s", "value", "steadiness", "hugged_thigh_flexion_deg", "flags"}
            assert h["end_s"] - h["start_s"] >= 2.5 and h["hugged_thigh_flexion_deg"] > 100
    assert d["verdict"].startswith("Thomas test:") and d["refused"] is None


def test_csv_without_standing_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(3)
    poses = tuple(p for p in thomas_protocol(5.0, 5.0, rng=rng, repeats=1) if p.name != "stand")
    rec = simulate_flexor(FlexorSimConfig(poses=(supine("lie_flat", 0.0, 0, 0, transition_s=0.0),) + poses[1:],
                                          fs_hz=100.0, seed=3))
    p = write_csvs(rec, tmp_path / "in")
    code = run_cli(["flexor-test", "--left", p["left"], "--right", p["right"], "--out", tmp_path / "o"])
    err = capsys.readouterr().err
    d = json.loads((tmp_path / "o" / "flexor_test.json").read_text())
    # either refused outright, or no hold: never a value
    assert all(d["sides"][s]["thigh_below_horizontal_deg"] is None for s in ("left", "right"))
    if d["refused"]:
        assert code == 1 and "standing" in err
    # --out may name the JSON file itself
    run_cli(["flexor-test", "--left", p["left"], "--right", p["right"], "--out", tmp_path / "x" / "res.json"])
    assert json.loads((tmp_path / "x" / "res.json").read_text())["schema"] == "imugait.flexor_test/1"
    # a missing file is one sentence
    code = run_cli(["flexor-test", "--left", tmp_path / "nope.csv", "--right", p["right"]])
    assert code == 1 and "nope.csv" in capsys.readouterr().err


def test_one_thigh_is_refused(tmp_path, test_rec, capsys):
    p = write_csvs(test_rec, tmp_path / "in")
    code = run_cli(["flexor-test", "--left", p["left"], "--out", tmp_path / "o"])
    assert code == 1
    assert "both thighs" in capsys.readouterr().err
    assert json.loads((tmp_path / "o" / "flexor_test.json").read_text())["refused"]


def test_session_round_trip_and_info(tmp_path, test_rec, capsys):
    p = write_csvs(test_rec, tmp_path / "in")
    ses = tmp_path / "t.h5"
    assert run_cli(["flexor-test", "--left", p["left"], "--right", p["right"], "--out", tmp_path / "o",
                    "--session-out", ses, "--subject", "R01", "--condition", "before"]) == 0
    d = json.loads((tmp_path / "o" / "flexor_test.json").read_text())
    with open_session(ses) as s:
        stored = s.flexor_test
        assert s.meta["protocol"] == "modified Thomas test"
        raw = s.raw_sha256()
    assert stored["run_id"] == "run-0001" and stored["current"] is True
    assert stored["sides"]["left"]["holds"] == d["sides"]["left"]["holds"]
    # the test on the session itself (session clock) gives the same holds; a second run is kept
    capsys.readouterr()
    assert run_cli(["flexor-test", ses, "--out", tmp_path / "o2"]) == 0
    d2 = json.loads((tmp_path / "o2" / "flexor_test.json").read_text())
    for s in ("left", "right"):
        assert d2["sides"][s]["thigh_below_horizontal_deg"] == pytest.approx(
            d["sides"][s]["thigh_below_horizontal_deg"], abs=0.05)
    with open_session(ses) as s:
        assert s.flexor_test["run_id"] == "run-0002"
        assert s.raw_sha256() == raw  # raw data untouched
    import h5py

    with h5py.File(ses, "r") as f:
        g = f["flexor_test/run-0002/holds"]
        assert g["thigh_below_horizontal_deg"].attrs["units"] == "deg"
        assert len(g["side"]) == 6 and f["flexor_test"].attrs["current"] == "run-0002"
    assert run_cli(["info", ses]) == 0
    assert "flexor    left" in capsys.readouterr().out


def test_guided_simulated_run_records_prompts_and_stores(tmp_path, capsys):
    out = tmp_path / "g"
    assert run_cli(["flexor-test", "--simulate", "--speed", "20", "--repeats", "1", "--hold", "5", "--out", out,
                    "--sim-left-deg", "10", "--sim-right-deg", "-5", "--seed", "4"]) == 0
    cap = capsys.readouterr()
    steps = protocol_steps(1, 5.0)
    for st in steps[:-1]:
        assert st.prompt in cap.err
    d = json.loads((out / "flexor_test.json").read_text())
    assert d["sides"]["left"]["thigh_below_horizontal_deg"] == pytest.approx(10.0, abs=2.5)
    assert d["sides"]["right"]["thigh_below_horizontal_deg"] == pytest.approx(-5.0, abs=2.5)
    with open_session(out / "flexor_test.h5") as s:
        assert s.flexor_test["current"]
        texts = list(s.markers["text"])
        assert sum("flexor-test: hold" in t for t in texts) == 2


def test_change_interval_by_hand():
    r = change_interval([1.0, 2.0, 3.0], [5.0, 6.0, 7.0])
    # medians 2 -> 6; SDs 1 and 1, n 3 and 3: se = sqrt(1/3 + 1/3), Welch dof = 4
    assert r["change_deg"] == 4.0
    assert r["se_deg"] == pytest.approx((2 / 3) ** 0.5)
    assert r["dof"] == pytest.approx(4.0)
    assert r["ci_high_deg"] - 4.0 == pytest.approx(2.776445 * (2 / 3) ** 0.5, rel=1e-5)
    single = change_interval([2.0], [3.0])
    assert single["spread_from"].startswith("published")


def test_compare_before_after_sessions(tmp_path, capsys):
    sessions = []
    for cond, (ld, rd) in (("before", (1.0, -8.0)), ("after", (9.0, -7.0))):
        rng = np.random.default_rng(77)
        poses = thomas_protocol(ld, rd, rng=rng, hold_jitter_deg=0.3)
        rec = simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=100.0, seed=77, movement_scale=0.5))
        p = write_csvs(rec, tmp_path / cond)
        ses = tmp_path / f"{cond}.h5"
        assert run_cli(["flexor-test", "--left", p["left"], "--right", p["right"], "--out", tmp_path / f"o_{cond}",
                        "--session-out", ses, "--condition", cond, "--subject", "R07"]) == 0
        sessions.append(ses)
    capsys.readouterr()
    out = tmp_path / "cmp"
    assert run_cli(["compare", sessions[0], sessions[1], "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "Left hip flexors" in printed and "Right hip flexors" in printed
    d = json.loads((out / "comparison.json").read_text())
    fx = d["flexor"]["sides"]
    # the same simulated sensors and straps before and after: their errors cancel
    assert fx["left"]["change_deg"] == pytest.approx(8.0, abs=1.0)
    assert fx["left"]["ci_low_deg"] > 0 and fx["left"]["within_published_error"] is False
    assert fx["left"]["verdict_code"] == "lengthened"
    assert fx["right"]["change_deg"] == pytest.approx(1.0, abs=1.0)
    assert fx["right"]["within_published_error"] is True
    assert "within the test's published test–retest error" in fx["right"]["verdict"]
    assert d["metrics"] == []  # no gait in a test session
    html = (out / "report.html").read_text()
    assert "Hip-flexor length (modified Thomas test)" in html and "Peeler" in html
    assert (out / "fig_flexor.png").stat().st_size > 1000


def test_stand_pose_builder_and_protocol_cover_the_sim_api():
    poses = (stand(3.0), supine("x", 1.0, 0.0, 0.0))
    rec = simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=60.0, seed=1))
    assert rec.holds == [] and rec.sides["left"].n == pytest.approx(60 * (3 + 1.5 + 2 + 1), abs=2)

"""`imugait import` (CSV, HuGaDB), `imugait info`, reprocessing with provenance, and every
bad-input case through the real CLI (one sentence, non-zero exit, traceback only with --debug)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import h5py
import numpy as np
import pytest
from repo_paths import TEST_DATA

import imugait
from imugait.analysis import ALGORITHM_VERSION, AnalysisParams
from imugait.store.csvio import read_imu_csv, write_imu_csv
from imugait.store.hugadb import read_hugadb
from imugait.store.importers import import_csv, import_hugadb
from imugait.app.session_analysis import process_session

HUGADB = TEST_DATA / "hugadb" / "HuGaDB_v1_walking_01_00_excerpt.txt"


def cli(*args, debug=False):
    pre = ["--debug"] if debug else []
    return subprocess.run([sys.executable, "-m", "imugait", *pre, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    from imugait.sim.gait import SimConfig, simulate

    d = tmp_path_factory.mktemp("csv")
    rec = simulate(SimConfig(gait="walk", duration_s=25, seed=5, stand_before_s=3.0))
    for side, s in rec.sides.items():
        write_imu_csv(d / f"{side}.csv", s.t_true_s, s.acc_mps2, s.gyr_dps)
    return d, rec


def test_csv_import_quantises_below_noise_with_provenance(sim_csv, tmp_path):
    d, rec = sim_csv
    out = tmp_path / "csv.h5"
    r = cli("import", "--left", str(d / "left.csv"), "--right", str(d / "right.csv"), "--out", str(out),
            "--subject", "S9", "--condition", "post-stretch")
    assert r.returncode == 0, r.stderr
    assert "imported left" in r.stdout
    with imugait.open_session(out) as s:
        assert s.sides == ("left", "right") and s.meta["condition"] == "post-stretch"
        src = s.meta["source_info"]
        assert s.meta["source"] == "csv"
        for side in ("left", "right"):
            tab = read_imu_csv(d / f"{side}.csv")
            t, acc, gyr = s.imu(side)
            np.testing.assert_allclose(t, tab.t_s, atol=1e-9, rtol=0)  # the CSV clock, exactly
            info = s.sensor_info(side)
            assert info.kind == "csv" and info.acc_range_g == 16.0 and info.gyr_range_dps == 2000.0
            assert np.max(np.abs(acc - tab.acc_mps2)) <= info.acc_scale_mps2 / 2 + 1e-9
            assert np.max(np.abs(gyr - tab.gyr_dps)) <= info.gyr_scale_dps / 2 + 1e-9
            # quantisation RMS is far below the simulated sensor noise (0.015 m/s², 0.07 deg/s)
            assert np.sqrt(np.mean((acc - tab.acc_mps2) ** 2)) < 0.002
            assert np.sqrt(np.mean((gyr - tab.gyr_dps) ** 2)) < 0.02
            q = src["quantisation"][side]
            assert q["acc_clipped"] == 0 and q["acc_max_error_mps2"] <= info.acc_scale_mps2 / 2 + 1e-9
            f = next(x for x in src["files"] if x["side"] == side)
            assert f["sha256"] == hashlib.sha256((d / f"{side}.csv").read_bytes()).hexdigest()
        # the stored packet rows reproduce the CSV clock exactly: no per-sample residual needed
        assert not s.raw("left")["t_dev_resid_ns"].any() or np.abs(s.raw("left")["t_dev_resid_ns"]).max() < 1000


def test_csv_one_side_and_clipping_warning(tmp_path):
    t = np.arange(400) / 100.0
    acc = np.zeros((400, 3))
    acc[:, 2] = 9.81
    acc[100, 0] = 80 * 9.81  # beyond the largest range (64 g)
    acc[101, 0] = 40 * 9.81  # needs the 64 g range
    gyr = np.zeros((400, 3))
    gyr[:, 1] = 100 * np.sin(t)
    write_imu_csv(tmp_path / "r.csv", t, acc, gyr)
    rep = import_csv(right=tmp_path / "r.csv", out=tmp_path / "r.h5")
    assert rep.samples == {"right": 400}
    assert any("clipped" in w for w in rep.warnings)
    with imugait.open_session(tmp_path / "r.h5") as s:
        assert s.sides == ("right",)
        info = s.sensor_info("right")
        assert info.acc_range_g == 64.0 and info.sample_rate_hz == pytest.approx(100.0)
        _t, a, _g = s.imu("right")
        assert a[101, 0] == pytest.approx(40 * 9.81, abs=info.acc_scale_mps2)
        assert a[100, 0] == pytest.approx(32767 * info.acc_scale_mps2)


def test_hugadb_import_keeps_counts_and_analyses(tmp_path):
    out = tmp_path / "h.h5"
    r = cli("import", "--hugadb", str(HUGADB), "--out", str(out), "--subject", "H01")
    assert r.returncode == 0, r.stderr
    assert "clipped" in r.stderr  # HuGaDB's ±2 g accelerometer clips in walking: said, not hidden
    rec = read_hugadb(HUGADB)
    with imugait.open_session(out) as s:
        assert s.meta["activity"] == "walking" and s.meta["source"] == "hugadb"
        assert s.meta["source_info"]["files"][0]["sha256"] == hashlib.sha256(HUGADB.read_bytes()).hexdigest()
        for side in ("left", "right"):
            raw = s.raw(side)
            np.testing.assert_array_equal(raw["acc_counts"], np.clip(rec.thigh[side].acc_counts, -32768, 32767))
            np.testing.assert_array_equal(raw["gyr_counts"], rec.thigh[side].gyr_counts)
            assert s.stats(side)["estimated_rate_hz"] == pytest.approx(58.8)
    # `imugait analyze FILE.h5` (analysis CLI) reads sessions through open_session
    r = cli("analyze", str(out), "--out", str(tmp_path / "an"))
    assert r.returncode == 0, r.stderr
    assert "valid strides" in r.stdout


def test_reprocessing_keeps_raw_and_earlier_runs_unless_replaced(tmp_path):
    out = tmp_path / "h.h5"
    import_hugadb(HUGADB, out)

    def raw_bytes():
        with h5py.File(out, "r") as f:
            return {k: f[f"sensors/left/{k}"][()].tobytes() for k in ("acc_counts", "gyr_counts", "t_dev_resid_ns")}

    before = raw_bytes()
    run1 = process_session(out)
    with imugait.open_session(out) as s:
        assert s.derived_current and s.current_run == run1
        a = s.run_attrs()
        assert a["algorithm_version"] == ALGORITHM_VERSION and a["raw_sha256"] == s.raw_sha256()
        assert "smooth_s" in a["parameters_json"]
        n1 = len(s.strides)
        assert n1 > 20 and s.summary and isinstance(s.asymmetry, dict)
        with h5py.File(out, "r") as f:
            g = f[f"derived/{run1}/strides"]
            assert g["rom_deg"].attrs["units"] == "deg" and g["stride_s"].attrs["units"] == "s"
    run2 = process_session(out, params=AnalysisParams(rom_floor_deg=60.0))
    with imugait.open_session(out) as s:
        runs = s.derived_runs
        assert list(runs.run_id) == [run1, run2] and s.current_run == run2
        assert s.strides.valid.sum() < s.strides_of(run1).valid.sum()  # the new parameters took effect
        assert '"rom_floor_deg": 60.0' in s.run_attrs()["parameters_json"]
        assert len(s.strides_of(run1)) == n1  # the earlier run is kept with its provenance
    run3 = process_session(out, replace=True)
    with imugait.open_session(out) as s:
        assert list(s.derived_runs.run_id) == [run3] and s.derived_current
    assert raw_bytes() == before
    # raw data changed behind the results' back -> results are reported out of date
    with h5py.File(out, "r+") as f:
        f["sensors/left/acc_counts"][0, 0] += 1
    with imugait.open_session(out) as s:
        assert not s.derived_current
    r = cli("info", str(out))
    assert r.returncode == 0 and "OUT OF DATE" in r.stdout


def test_info_lists_markers_and_results(tmp_path):
    from imugait.store.writer import SessionWriter

    rec = read_hugadb(HUGADB)
    out = tmp_path / "m.h5"
    with SessionWriter(out, {"subject_id": "M1", "condition": "pre-stretch"}) as w:
        w.add_sensor(rec.sensor_info("left"))
        from imugait.types import SampleBlock

        seg = rec.thigh["left"]
        w.append_block(SampleBlock("left", 0, rec.t_s, seg.acc_counts.astype(np.int16), seg.gyr_counts.astype(np.int16),
                                   rec.sensor_info("left").acc_scale_mps2, rec.sensor_info("left").gyr_scale_dps))
        w.add_marker(5.0, "start stretching")
    process_session(out)
    r = cli("info", str(out))
    assert r.returncode == 0, r.stderr
    for text in ("condition pre-stretch", "markers   1", "0:05.0  start stretching", "strides", "· current",
                 "58.8 Hz configured"):
        assert text in r.stdout, (text, r.stdout)


# --- bad input through the CLI ---------------------------------------------------------

def _bad_files(tmp_path):
    from test_store import bad_files  # the sibling module (same folder, on sys.path under pytest)

    return bad_files(tmp_path)


def cli_inprocess(args, capsys, monkeypatch):
    """Run the real CLI entry point (imugait.cli.main) in this process: same code path as
    the `imugait` executable, without paying interpreter start-up for every case."""
    from imugait.cli import main

    monkeypatch.setenv("IMUGAIT_DEBUG", "")  # main(--debug) sets it; restored after the test
    with pytest.raises(SystemExit) as ei:
        main(list(args))
    out = capsys.readouterr()
    return ei.value.code, out.out, out.err


@pytest.mark.parametrize("case", ["not_hdf5", "foreign", "newer", "truncated", "missing_group", "no_sensors", "absent"])
def test_info_bad_input_one_sentence_no_traceback(tmp_path, case, capsys, monkeypatch):
    path, text = _bad_files(tmp_path)[case]
    code, _out, err = cli_inprocess(["info", str(path)], capsys, monkeypatch)
    assert code not in (0, None)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and text in lines[0], err
    code, _out, err = cli_inprocess(["--debug", "info", str(path)], capsys, monkeypatch)
    assert code not in (0, None) and "Traceback" in err


def test_info_bad_input_through_the_executable(tmp_path):
    path, text = _bad_files(tmp_path)["foreign"]
    r = cli("info", str(path))
    assert r.returncode == 1 and r.stderr.strip() == f"imugait: {path}: is an HDF5 file but not an imugait session " \
        "(no format='imugait-session' attribute) — import raw data with `imugait import` first"
    r = cli("info", str(path), debug=True)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_import_bad_csv_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    rows = [f"{i / 100},0,0,9.8,0,0,0\n" for i in range(20)]
    bad.write_text("time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps\n" +
                   "".join(rows[:10]) + "0.1,0,0,9.8,0\n" + "".join(rows[11:]))
    r = cli("import", "--left", str(bad), "--out", str(tmp_path / "o.h5"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "bad.csv" in r.stderr and "line 12" in r.stderr, r.stderr
    assert not (tmp_path / "o.h5").exists()
    # a cut-off LAST line (a logger stopped mid-write) is dropped with a warning
    cut = tmp_path / "cut.csv"
    cut.write_text("time_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_dps,gyr_y_dps,gyr_z_dps\n" + "".join(rows) + "0.2,0,0,9.8,0\n")
    r = cli("import", "--left", str(cut), "--out", str(tmp_path / "c.h5"))
    assert r.returncode == 0 and "line 22 (the last) is incomplete" in r.stderr and "left 20 samples" in r.stdout
    r = cli("import", "--hugadb", str(bad), "--out", str(tmp_path / "o.h5"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "bad.csv" in r.stderr
    assert not (tmp_path / "o.h5").exists() and not (tmp_path / "o.h5.creating").exists()

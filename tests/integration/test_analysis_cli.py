"""`imugait analyze` end to end on CSV files and on the shipped recording."""

import json

import pandas as pd
from click.testing import CliRunner
from repo_paths import REPO, TEST_DATA

from imugait.cli.analyze import analyze
from imugait.analysis.results import STRIDE_COLUMNS

REC = REPO / "imugait" / "data" / "hugadb_walking_06"


def test_analyze_default_recording(tmp_path):
    r = CliRunner().invoke(analyze, ["--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "valid strides" in r.output and "asymmetry" in r.output
    df = pd.read_csv(tmp_path / "o" / "strides.csv")
    assert tuple(df.columns[: len(STRIDE_COLUMNS)]) == STRIDE_COLUMNS
    assert set(df.side) == {"left", "right"}
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["sides"]["left"]["n_valid"] > 100 and "rom_deg" in s["asymmetry"]["metrics"]


def test_analyze_one_csv(tmp_path):
    r = CliRunner().invoke(analyze, ["--right", str(REC / "right.csv"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert list(s["sides"]) == ["right"]
    assert "two sensors" in s["asymmetry"]["note"]
    df = pd.read_csv(tmp_path / "o" / "strides.csv")
    # times in the CSV's own clock
    assert df.ic_s.min() >= 0 and df.next_ic_s.max() <= 6916 / 58.8


def test_analyze_bad_csv_is_a_clear_error(tmp_path):
    bad = tmp_path / "left.csv"
    bad.write_text("time_s,acc_x_mps2\n0,1\n")
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "imugait", "analyze", "--left", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "left.csv" in r.stderr and "Traceback" not in r.stderr


def test_analyze_session_file(tmp_path):
    """A real HDF5 session written by the store's SessionWriter from simulated counts."""
    from imugait.sim.gait import SimConfig, simulate
    from imugait.store.writer import SessionWriter
    from imugait.types import SampleBlock

    rec = simulate(SimConfig(gait="walk", duration_s=30, fs_hz=100.0, seed=4, strap="random"))
    path = tmp_path / "s.h5"
    w = SessionWriter(path, {"source": "simulated"})
    for s in rec.sides.values():
        w.add_sensor(s.info)
    for side, s in rec.sides.items():
        for i in range(0, len(s.t_true_s), 10):
            sl = slice(i, i + 10)
            w.append_block(SampleBlock(side=side, first_index=int(s.sample_index[i]), t_dev_s=s.t_dev_s[sl],
                                       acc_counts=s.acc_counts[sl], gyr_counts=s.gyr_counts[sl],
                                       acc_scale_mps2=s.info.acc_scale_mps2, gyr_scale_dps=s.info.gyr_scale_dps, seq=i // 10),
                           s.t_true_s[sl])
    w.close()
    r = CliRunner().invoke(analyze, [str(path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "o" / "strides.csv")
    truth = rec.sides["left"].strides
    v = df[(df.side == "left") & df.valid]
    assert len(v) >= len(truth) - 3
    # we also report the gait-initiation stride (≈ 0.7 s) that the truth table leaves out: it
    # moves our median by half a rank (≈ 1 spm), hence 1.5 spm (1.4 %)
    assert abs(v.cadence_spm.median() - truth.cadence_spm.median()) < 1.5


def test_analyze_hugadb_text_file(tmp_path):
    f = TEST_DATA / "hugadb" / "HuGaDB_v1_walking_06_00_excerpt.txt"
    r = CliRunner().invoke(analyze, [str(f), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "o" / "strides.csv")
    assert set(df.side) == {"left", "right"} and df.valid.sum() > 20


def test_analyze_with_a_params_file(tmp_path):
    """`--params` takes AnalysisParams names (or a summary.json); a typo is one clear sentence,
    a parameter of an older version is ignored with a warning."""
    import warnings

    import pytest

    from imugait.analysis.params import load_params
    from imugait.errors import ImugaitError

    good = tmp_path / "p.json"
    good.write_text(json.dumps({"rom_floor_deg": 60.0}))
    r = CliRunner().invoke(analyze, ["--right", str(REC / "right.csv"), "--params", str(good), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["params"]["rom_floor_deg"] == 60.0
    assert s["sides"]["right"]["rejected"].get("rom_below_floor", 0) > 50  # the walking ROM is ≈ 49°
    # the summary.json just written works as a parameter file too
    assert load_params(tmp_path / "o" / "summary.json").rom_floor_deg == 60.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rom_flor_deg": 60.0}))
    with pytest.raises(ImugaitError, match="rom_flor_deg"):
        load_params(bad)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"ic_default_frac_walk": 0.1, "rom_floor_deg": 12.0}))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert load_params(old).rom_floor_deg == 12.0
    assert any("ic_default_frac_walk" in str(x.message) for x in w)

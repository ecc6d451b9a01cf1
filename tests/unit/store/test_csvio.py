"""CSV import format: round trip, units, and a clear error for every kind of bad file."""

import numpy as np
import pytest

from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2
from imugait.errors import InputFileError
from imugait.store.csvio import HEADER_LINE, read_imu_csv, write_imu_csv


def _data(n=50, fs=100.0, seed=0):
    rng = np.random.default_rng(seed)
    t = 3.0 + np.arange(n) / fs
    acc = rng.normal(0, 5, (n, 3)) + [0, 9.8, 0]
    gyr = rng.normal(0, 100, (n, 3))
    return t, acc, gyr


def _lines(n=20, fs=100.0):
    return [HEADER_LINE] + [f"{k / fs:.4f},0.1,9.8,0.2,1.5,-2.5,3.5" for k in range(n)]


def _write(tmp_path, lines, name="left.csv"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _err(path, **kw) -> InputFileError:
    with pytest.raises(InputFileError) as ei:
        read_imu_csv(path, **kw)
    e = ei.value
    assert str(path) in str(e)
    assert e.fix, "every error says how to fix it"
    return e


def test_round_trip_si(tmp_path):
    t, acc, gyr = _data()
    p = write_imu_csv(tmp_path / "right.csv", t, acc, gyr, comments=["made by a test"])
    assert p.read_text().splitlines()[1] == HEADER_LINE
    tab = read_imu_csv(p)
    assert tab.n == len(t) and tab.path == str(p)
    assert np.allclose(tab.t_s, t, atol=1e-6)
    assert np.allclose(tab.acc_mps2, acc, atol=1e-5)
    assert np.allclose(tab.gyr_dps, gyr, atol=1e-4)
    assert tab.fs_hz == pytest.approx(100.0, rel=1e-4)
    assert (tab.acc_unit, tab.gyr_unit) == ("mps2", "dps")


def test_round_trip_in_g_and_rad_per_s(tmp_path):
    t, acc, gyr = _data()
    p = write_imu_csv(tmp_path / "l.csv", t, acc, gyr, acc_unit="g", gyr_unit="rad/s")
    header = p.read_text().splitlines()[0]
    assert header == "time_s,acc_x_g,acc_y_g,acc_z_g,gyr_x_rps,gyr_y_rps,gyr_z_rps"
    tab = read_imu_csv(p)
    assert (tab.acc_unit, tab.gyr_unit) == ("g", "rps")
    assert np.allclose(tab.acc_mps2, acc, atol=1e-5)
    assert np.allclose(tab.gyr_dps, gyr, atol=1e-4)


def test_unitless_header_needs_explicit_unit_and_override_wins(tmp_path):
    lines = ["time,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"] + _lines()[1:]
    p = _write(tmp_path, lines)
    e = _err(p)
    assert "line 1" in str(e) and "unit" in str(e)
    tab = read_imu_csv(p, acc_unit="g", gyr_unit="rad/s")
    assert tab.acc_mps2[0, 1] == pytest.approx(9.8 * GRAVITY_MPS2)
    assert tab.gyr_dps[0, 0] == pytest.approx(1.5 * DEG_PER_RAD)
    # explicit unit overrides a header unit
    p2 = _write(tmp_path, _lines(), "r.csv")
    assert read_imu_csv(p2, acc_unit="g").acc_mps2[0, 1] == pytest.approx(9.8 * GRAVITY_MPS2)


def test_columns_in_any_order_extra_columns_ignored_time_ms(tmp_path):
    lines = ["gyr_x_dps,gyr_y_dps,gyr_z_dps,temp_c,time_ms,acc_x_mps2,acc_y_mps2,acc_z_mps2"]
    lines += [f"1,2,3,25.0,{10 * k},4,5,6" for k in range(20)]
    tab = read_imu_csv(_write(tmp_path, lines))
    assert tab.ignored_columns == ("temp_c",)
    assert tab.t_s[1] == pytest.approx(0.01)
    assert np.allclose(tab.acc_mps2[0], [4, 5, 6]) and np.allclose(tab.gyr_dps[0], [1, 2, 3])
    assert tab.fs_hz == pytest.approx(100.0)


def test_missing_file(tmp_path):
    e = _err(tmp_path / "nope.csv")
    assert "not found" in str(e)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert "empty" in str(_err(p))
    p.write_text("# only a comment\n\n")
    assert "empty" in str(_err(p))


def test_wrong_header(tmp_path):
    e = _err(_write(tmp_path, ["time_s,ax,ay,az,gx,gy,gz"] + _lines()[1:]))
    assert "line 1" in str(e) and "acc_x" in str(e)
    e = _err(_write(tmp_path, _lines()[1:], "noheader.csv"))
    assert "line 1" in str(e) and "no header" in str(e)
    # a semicolon header over comma rows: the mismatch is named
    e = _err(_write(tmp_path, [HEADER_LINE.replace(",", ";")] + _lines()[1:], "semi.csv"))
    assert e.where == "line 2" and "semicolons" in str(e) and "commas" in str(e)
    e = _err(_write(tmp_path, [HEADER_LINE.replace("acc_x_mps2", "acc_x_ms")] + _lines()[1:], "unit.csv"))
    assert "acc_x_ms" in str(e)


def test_wrong_column_count_names_the_line(tmp_path):
    lines = _lines()
    lines[9] = "0.0800,0.1,9.8,0.2"
    e = _err(_write(tmp_path, ["# comment line"] + lines))
    assert e.where == "line 11"
    assert "7 columns expected, found 4" in str(e)
    lines = _lines()
    lines[5] = lines[5] + ",7"
    assert _err(_write(tmp_path, lines, "long.csv")).where == "line 6"


def test_non_numeric_value_names_line_and_column(tmp_path):
    lines = _lines()
    lines[13] = "0.1200,0.1,9.8,0.2,1.5,abc,3.5"
    e = _err(_write(tmp_path, lines))
    assert e.where == "line 14 column 6 (gyr_y_dps)"
    assert "'abc'" in str(e)
    lines = _lines()
    lines[4] = "0.0300,0.1,,0.2,1.5,2,3.5"
    e = _err(_write(tmp_path, lines, "emptyval.csv"))
    assert e.where == "line 5 column 3 (acc_y_mps2)" and "empty" in str(e)
    lines = _lines()
    lines[4] = "0.0300,0.1,nan,0.2,1.5,2,3.5"
    assert _err(_write(tmp_path, lines, "nan.csv")).where == "line 5 column 3 (acc_y_mps2)"


def test_time_not_increasing_names_the_line(tmp_path):
    lines = _lines()
    lines[8] = lines[7]  # duplicate row: dropped, counted, named
    tab = read_imu_csv(_write(tmp_path, lines))
    assert tab.n == 19 and any("1 exact duplicate row(s) dropped (first: line 9)" in w for w in tab.warnings)
    lines = _lines()
    lines.insert(5, "")  # blank lines do not shift the reported line
    lines[12] = "0.0100,0.1,9.8,0.2,1.5,-2.5,3.5"
    e = _err(_write(tmp_path, lines, "back.csv"))
    assert e.where == "line 13" and "goes back" in str(e) and "sort the file" in str(e)


def test_too_few_samples(tmp_path):
    e = _err(_write(tmp_path, _lines(n=3)))
    assert "only 3 sample" in str(e)


def test_binary_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER_LINE.encode() + b"\n\xff\xfe\x00garbage\n")
    assert "line 2" in str(_err(p))


def test_large_file_reads_fast_enough_to_be_usable(tmp_path):
    # 10 minutes at 200 Hz: correctness of the fast path on a realistic size (no timing assert)
    n = 120_000
    t = np.arange(n) / 200.0
    acc = np.tile([0.0, 9.81, 0.0], (n, 1))
    gyr = np.zeros((n, 3))
    gyr[:, 2] = np.sin(t)
    p = write_imu_csv(tmp_path / "big.csv", t, acc, gyr)
    tab = read_imu_csv(p)
    assert tab.n == n and tab.fs_hz == pytest.approx(200.0, rel=1e-6)
    assert np.allclose(tab.gyr_dps[:, 2], np.sin(t), atol=1e-4)

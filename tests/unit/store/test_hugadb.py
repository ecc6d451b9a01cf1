"""HuGaDB reader on committed real excerpts (tests/data/hugadb, see its README for the citation)."""


import numpy as np
import pytest
from repo_paths import TEST_DATA

from imugait.errors import InputFileError
from imugait.store.hugadb import HUGADB_FS_HZ, is_hugadb_file, read_hugadb

DATA = TEST_DATA / "hugadb"
F06 = DATA / "HuGaDB_v1_walking_06_00_excerpt.txt"  # acc_rt_x style
F01 = DATA / "HuGaDB_v1_walking_01_00_excerpt.txt"  # RT_acc_x style
F14 = DATA / "HuGaDB_v1_walking_14_00_excerpt.txt"  # corrupted gyros


@pytest.mark.parametrize("path,n", [(F06, 1500), (F01, 900)])
def test_both_header_styles_read_to_si(path, n):
    r = read_hugadb(path)
    assert r.n == n and r.activity.startswith("walking")
    assert r.fs_hz == HUGADB_FS_HZ
    assert np.allclose(np.diff(r.t_s), 1 / HUGADB_FS_HZ)
    for side in ("left", "right"):
        t, acc, gyr = r.imu(side)
        assert acc.shape == gyr.shape == (n, 3)
        # gravity: the median accelerometer norm of a walking thigh is about 1 g
        assert 8.0 < np.median(np.linalg.norm(acc, axis=1)) < 16.0
        # thigh acc x runs along the thigh, about -1 g on average
        assert np.mean(acc[:, 0]) < -5.0
        # walking thigh angular velocity: tens to a few hundred deg/s
        assert 30 < np.percentile(np.linalg.norm(gyr, axis=1), 90) < 600


def test_units_from_counts():
    r = read_hugadb(F06)
    seg = r.thigh["right"]
    assert np.allclose(seg.acc_mps2, seg.acc_counts * 9.80665 / 16384)
    assert np.allclose(seg.gyr_dps, seg.gyr_counts / 16.4)


def test_clipping_flags():
    r = read_hugadb(F06)
    seg = r.thigh["left"]
    clipped = np.any(np.abs(seg.acc_counts) >= 32767, axis=1)
    assert np.array_equal(seg.acc_clipped, clipped)
    assert seg.acc_clipped.any()  # the ±2 g accelerometer clips in fast walking
    q = r.quality()
    assert q["left_thigh_acc_clipped_pct"] > 0
    # the corrupted file's gyros clip (stored ×10)
    r14 = read_hugadb(F14)
    assert r14.quality()["left_shin_gyr_clipped_pct"] > 1.0


def test_sniff():
    assert is_hugadb_file(F06) and is_hugadb_file(F01)
    assert not is_hugadb_file(DATA / "README.md")


def test_bad_files_raise_input_file_error(tmp_path):
    lines = F06.read_text().splitlines()
    p = tmp_path / "missing_col.txt"
    hdr = lines[3].split("\t")
    hdr[12] = "foo"
    p.write_text("\n".join(lines[:3] + ["\t".join(hdr)] + lines[4:20]) + "\n")
    with pytest.raises(InputFileError, match="missing HuGaDB columns"):
        read_hugadb(p)
    p = tmp_path / "ragged.txt"
    p.write_text("\n".join(lines[:10] + ["1\t2\t3"] + lines[10:20]) + "\n")
    with pytest.raises(InputFileError, match="line 11: 39 columns expected, found 3"):
        read_hugadb(p)
    p = tmp_path / "text.txt"
    bad = lines[12].split("\t")
    bad[5] = "abc"
    p.write_text("\n".join(lines[:12] + ["\t".join(bad)] + lines[13:20]) + "\n")
    with pytest.raises(InputFileError, match="line 13: non-integer"):
        read_hugadb(p)
    p = tmp_path / "empty.txt"
    p.write_text("\n".join(lines[:4]) + "\n")
    with pytest.raises(InputFileError, match="no data rows"):
        read_hugadb(p)
    with pytest.raises(InputFileError, match="not found"):
        read_hugadb(tmp_path / "nope.txt")
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(InputFileError):
        read_hugadb(p)

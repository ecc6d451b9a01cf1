"""CSV import format, property test (moved from tests/unit/store/test_csvio.py): any length,
sample rate and unit choice written by ``write_imu_csv`` reads back unchanged."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imugait.store.csvio import read_imu_csv, write_imu_csv


@settings(max_examples=25, deadline=None)
@given(n=st.integers(10, 60), fs=st.sampled_from([50.0, 100.0, 200.0, 1000.0]),
       acc_unit=st.sampled_from(["mps2", "g"]), gyr_unit=st.sampled_from(["dps", "rps"]),
       seed=st.integers(0, 2**16))
def test_round_trip_property(tmp_path_factory, n, fs, acc_unit, gyr_unit, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(-100, 100) + np.arange(n) / fs
    acc = rng.uniform(-160, 160, (n, 3))
    gyr = rng.uniform(-2000, 2000, (n, 3))
    p = write_imu_csv(tmp_path_factory.mktemp("rt") / "x.csv", t, acc, gyr, acc_unit=acc_unit, gyr_unit=gyr_unit)
    tab = read_imu_csv(p)
    assert np.allclose(tab.t_s, t, atol=1e-6)
    assert np.allclose(tab.acc_mps2, acc, atol=1e-4)
    assert np.allclose(tab.gyr_dps, gyr, atol=1e-3)
    assert tab.fs_hz == pytest.approx(fs, rel=1e-3)

"""Short recordings: walks of 8–15 s with 4–8 strides per side that start and stop inside
the recording, with and without a standing period, and a short real walking excerpt."""


import numpy as np
import pytest
from repo_paths import REPO
from tool_modules import load_tool

from imugait.analysis import analyze
from imugait.sim.gait import SimConfig, simulate
from imugait.store.csvio import read_imu_csv

match_truth = load_tool("validate").match_truth


@pytest.mark.parametrize("seed,stand_before_s,duration_s", [(1, 2.0, 11.0), (2, 0.0, 9.0), (3, 1.0, 14.0)])
def test_short_walk_with_start_and_stop_inside(seed, stand_before_s, duration_s):
    rec = simulate(SimConfig(gait="walk", duration_s=duration_s, stand_before_s=stand_before_s, stand_after_s=1.0,
                             fs_hz=100.0, seed=seed, strap="random", speed_mps=1.2, soft_tissue_deg=1.0))
    res = analyze(*((s.t_true_s, s.acc_mps2, s.gyr_dps) for s in rec.sides.values()), fs_hz=100.0)
    for side, s in rec.sides.items():
        cal = res.calibration[side]
        assert cal.calibrated and not cal.failed and cal.still_found == (stand_before_s > 0)
        m = match_truth(res.strides[res.strides.side == side].reset_index(drop=True), s.strides, steady_only=False)
        assert 3 <= m["n_truth"] <= 9
        assert m["tp"] >= m["n_truth"] - 1  # at most the first stride out of standing missed
        assert m["tp"] >= m["n_ours"] - 1
        tr, ov = m["truth_sel"], m["ours_sel"]
        ic = np.array([ov.ic_s.iloc[j] - tr.ic_s.iloc[i] for i, j in m["pairs"]])
        assert np.median(np.abs(ic)) < 0.04


def test_twelve_seconds_of_real_walking_without_standing():
    """The first 12 s of the shipped real recording (HuGaDB, walking from the first sample,
    no standing): calibrated at the end of the stream, strides on both legs, cadence right."""
    tabs = {s: read_imu_csv(REPO / "imugait" / "data" / "hugadb_walking_06" / f"{s}.csv") for s in ("left", "right")}
    n = int(12 * 58.8)
    res = analyze(*((tabs[s].t_s[:n], tabs[s].acc_mps2[:n], tabs[s].gyr_dps[:n]) for s in ("left", "right")), fs_hz=58.8)
    full = analyze(*((tabs[s].t_s, tabs[s].acc_mps2, tabs[s].gyr_dps) for s in ("left", "right")), fs_hz=58.8)
    for side in ("left", "right"):
        assert res.calibration[side].calibrated and not res.calibration[side].still_found
        v = res.strides[(res.strides.side == side) & res.strides.valid]
        assert len(v) >= 8
        f = full.strides[(full.strides.side == side) & full.strides.valid]
        f12 = f[f.next_ic_s <= tabs[side].t_s[n - 1]]
        assert abs(v.cadence_spm.median() - f12.cadence_spm.median()) < 1
        # the same strides as in the whole recording (the short one sees less, decides the same)
        near = [np.min(np.abs(f.ic_s.to_numpy() - x)) for x in v.ic_s]
        assert np.median(near) < 0.02

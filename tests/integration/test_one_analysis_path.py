"""``analyze``, ``compare`` and ``reprocess`` analyse a session through one path
(:func:`imugait.app.analyze_session`): the same file gives the same strides in all three —
with both thighs, with one thigh, and with a configured rate the time stamps contradict
(the one rate rule: the stamps' rate, with a note)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cli_helper import run_cli
from imugait.app import analyze_session
from imugait.compare.api import load_session
from imugait.compare.reprocess import reprocess
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig, simulate
from imugait.store.importers import SideArrays, write_arrays

KEY = ["side", "ic_s", "next_ic_s", "valid"]
RUN = SimConfig(gait="run", duration_s=30, speed_mps=3.0, seed=4)
META = {"subject_id": "A", "condition": "pre"}


def _strides(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c in KEY or c.endswith(("_s", "_deg", "_spm", "_pct", "_dps"))]
    num = [c for c in cols if c not in ("side", "valid")]
    out = df[sorted(cols)].copy()
    out["valid"] = out["valid"].astype(bool)
    out[num] = out[num].astype(float)
    return out.sort_values(["side", "ic_s"]).reset_index(drop=True)


def _wrong_rate_session(path):
    """The sensors claim 150 Hz; their time stamps say 200 Hz."""
    rec = simulate(RUN)
    sides = {side: SideArrays(replace(s.info, sample_rate_hz=150.0), s.t_true_s, s.acc_counts, s.gyr_counts,
                              t_dev_s=s.t_dev_s, sample_index=s.sample_index) for side, s in rec.sides.items()}
    return write_arrays(path, {"source": "simulated", **META}, sides, overwrite=True)


@pytest.fixture(scope="module", params=["both", "left_only", "wrong_rate"])
def session(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("one_path")
    path = d / f"{request.param}.h5"
    if request.param == "wrong_rate":
        return _wrong_rate_session(path)
    sides = ("left", "right") if request.param == "both" else ("left",)
    return write_sim_session(path, RUN.replace(sides=sides), META)


def test_analyze_compare_reprocess_give_identical_strides(session, tmp_path):
    sa = analyze_session(session)
    ref = _strides(sa.result.strides)
    assert len(ref) > 10
    if session.stem == "wrong_rate":  # the one rate rule: the stamps' rate, and a note saying so
        assert sa.fs_hz == {} and any("disagrees" in n for n in sa.notes), (sa.fs_hz, sa.notes)

    assert run_cli(["analyze", session, "--out", tmp_path / "an", "--quiet"]) == 0
    from_analyze = _strides(pd.read_csv(tmp_path / "an" / "strides.csv"))

    from_compare = _strides(load_session(session).strides)

    rep = reprocess([session], out_dir=None, write=False, progress=False)
    from_reprocess = _strides(rep.table)

    for name, got in (("analyze", from_analyze), ("compare", from_compare), ("reprocess", from_reprocess)):
        assert list(got.columns) == list(ref.columns), name
        assert len(got) == len(ref), name
        assert (got["side"].to_numpy() == ref["side"].to_numpy()).all(), name
        assert (got["valid"].to_numpy() == ref["valid"].to_numpy()).all(), name
        num = [c for c in ref.columns if c not in ("side", "valid")]
        # strides.csv keeps 6 significant digits
        np.testing.assert_allclose(got[num].to_numpy(), ref[num].to_numpy(), rtol=1e-5, atol=1e-9,
                                   equal_nan=True, err_msg=name)

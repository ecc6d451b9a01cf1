"""``analyze``, ``compare`` and ``reprocess`` analyse a session through one path
(:func:`imugait.app.analyze_session`): the same file gives the same strides in all three, with both thighs and with one."""

import numpy as np
import pandas as pd
import pytest

from cli_helper import run_cli
from imugait.app import analyze_session
from imugait.compare.api import load_session
from imugait.compare.reprocess import reprocess
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig

KEY = ["side", "ic_s", "next_ic_s", "valid"]


def _strides(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c in KEY or c.endswith(("_s", "_deg", "_spm", "_pct", "_dps"))]
    num = [c for c in cols if c not in ("side", "valid") and c not in ("duration_s",)]
    out = df[sorted(cols)].copy()
    out["valid"] = out["valid"].astype(bool)
    out[num] = out[num].astype(float)
    return out.sort_values(["side", "ic_s"]).reset_index(drop=True)


@pytest.fixture(scope="module", params=["both", "left_only"])
def session(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("one_path")
    sides = ("left", "right") if request.param == "both" else ("left",)
    return write_sim_session(d / f"{request.param}.h5",
                             SimConfig(gait="run", duration_s=30, speed_mps=3.0, seed=4, sides=sides),
                             {"subject_id": "A", "condition": "pre"})


def test_analyze_compare_reprocess_give_identical_strides(session, tmp_path):
    ref = _strides(analyze_session(session).result.strides)
    assert len(ref) > 10

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

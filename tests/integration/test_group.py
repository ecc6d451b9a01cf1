"""imugait group: paired statistics across runners, from reprocess's combined table."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from cli_helper import run_cli
from repo_paths import REPO

from imugait.compare.group import group_compare, paired_stats, read_stride_table
from imugait.compare.reprocess import reprocess
from imugait.compare.simdata import write_sim_session
from imugait.errors import InputFileError
from imugait.sim.gait import SimConfig


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Five runners (different speeds and sensors), pre and post; post has +3° left hip range.
    One more runner came only to the pre session."""
    d = tmp_path_factory.mktemp("study")
    for i in range(5):
        cfg = SimConfig(gait="run", duration_s=35, speed_mps=2.6 + 0.25 * i, sensor_seed=100 + i)
        write_sim_session(d / f"R{i}_pre.h5", cfg.replace(seed=10 * i + 1), {"subject_id": f"R{i}", "condition": "pre"})
        write_sim_session(d / f"R{i}_post.h5", cfg.replace(seed=10 * i + 2, asym_rom_deg=3.0),
                          {"subject_id": f"R{i}", "condition": "post"})
    write_sim_session(d / "R9_pre.h5", SimConfig(gait="run", duration_s=35, seed=99),
                      {"subject_id": "R9", "condition": "pre"})
    res = reprocess([d], jobs=2, out_dir=d / "out", write=False, progress=False)
    assert res.exit_code == 0
    return d / "out"


def test_group_finds_the_left_change_across_runners(study):
    g, info = group_compare(read_stride_table(study), "pre", "post")
    g = g.set_index(["side", "metric"])
    left, right = g.loc[("left", "rom_deg")], g.loc[("right", "rom_deg")]
    assert left.n_runners == 5 and info["runners"] == [f"R{i}" for i in range(5)]
    assert info["left_out"] == {"only_pre": ["R9"], "only_post": []}
    assert left.ci_low > 0 and left.ci_low < 3.0 < left.ci_high and left.n_up == 5
    assert math.isclose(left.p_wilcoxon, 0.0625)  # exact: 5 of 5 up is the smallest two-sided p for n = 5
    assert right.ci_low < 0 < right.ci_high
    assert g.loc[("both", "asym_rom_pct")].ci_low > 0  # left grew relative to right
    assert left.verdict.startswith("Left hip range changed: mean +") and "cannot reach p < 0.05" in left.verdict
    # per-runner values are the medians compare uses: R0's pre value from its own strides
    t = pd.read_parquet(study / "strides.parquet")
    r0 = t[(t.subject_id == "R0") & (t.condition == "pre") & (t.side == "left") & t.valid]
    assert info["per_runner"]["left/rom_deg"]["R0"][0] == pytest.approx(r0.rom_deg.median())


def test_paired_stats_by_hand():
    r = paired_stats(np.array([1.0, 2.0, 3.0, 4.0]))
    sd = np.std([1, 2, 3, 4], ddof=1)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3)
    assert r["mean_diff"] == 2.5 and r["ci_low"] == pytest.approx(2.5 - half) and r["ci_high"] == pytest.approx(2.5 + half)
    assert r["p_wilcoxon"] == pytest.approx(0.125) and r["cohens_dz"] == pytest.approx(2.5 / sd)
    assert r["n_up"] == 4 and r["n_down"] == 0
    one = paired_stats(np.array([1.0]))
    assert one["n_runners"] == 1 and math.isnan(one["ci_low"])


def test_cli_group_and_its_errors(study, tmp_path, capsys):
    out = tmp_path / "g"
    assert run_cli(["group", study, "--before", "pre", "--after", "post", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "5 runner(s) with both 'pre' and 'post'; only pre: R9" in text and "Left hip range changed" in text
    doc = json.loads((out / "group.json").read_text())
    assert doc["schema"] == "imugait.group/1" and len(doc["metrics"]) == len(pd.read_csv(out / "group.csv"))
    assert doc["source"]["table"].endswith("strides.parquet") and len(doc["source"]["table_sha256"]) == 64
    assert doc["source"]["reprocess"]["algorithm_version"] and doc["source"]["reprocess"]["n_files"] == 11
    assert run_cli(["group", study, "--before", "pre", "--after", "later"]) == 1
    assert "has no condition 'later' (found: post, pre)" in capsys.readouterr().err
    one = pd.read_parquet(study / "strides.parquet")
    one[one.subject_id.isin(["R0", "R9"])].to_csv(tmp_path / "one.csv", index=False)
    assert run_cli(["group", tmp_path / "one.csv", "--before", "pre", "--after", "post"]) == 1
    assert "needs at least 2 runners with both 'pre' and 'post'; found 1 (R0; only pre: R9)" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="holds no strides.parquet or strides.csv"):
        read_stride_table(tmp_path / "empty")
    pd.DataFrame({"side": ["left"], "ic_s": [1.0]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(InputFileError, match="lacks condition, subject_id"):
        read_stride_table(tmp_path / "x.csv")


def test_validation_tool_slice(tmp_path):
    """One study of tools/validate_group.py (the sweep's rates are in docs/compare.md)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("validate_group",
                                                  REPO / "tools" / "validate_group.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "vg.json"
    assert tool.main(["--studies", "1", "--runners", "4", "--duration-s", "40", "--workers", "1",
                      "--effect-deg", "5", "--out", str(out)]) == 0
    (study,) = json.loads(out.read_text())["studies"]
    assert study["n_runners"] == 4
    assert study["left"]["ci_low"] > 0 and abs(study["left"]["mean_diff"] - 5.0) < 1.5
    assert study["right"]["ci_low"] < study["right"]["mean_diff"] < study["right"]["ci_high"]
    assert abs(study["right"]["mean_diff"]) < 1.0

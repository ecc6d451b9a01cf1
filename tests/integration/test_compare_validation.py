"""A small slice of tools/validate_compare.py: simulate -> analyze -> compare on one seed.

The full sweep (100 seeds, rates of detection and of false alarms) is in the tool and its
results in docs/compare.md; here we check the pipeline end to end on a seed with
tolerances that a correct implementation meets on every seed.
"""

import importlib.util

import pytest
from repo_paths import REPO

TOOL = REPO / "tools" / "validate_compare.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("validate_compare", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("seed", [1])
def test_validation_slice(tool, seed, tmp_path):
    r = tool.run_seed((seed, 60.0, "run", 3.0, 500, "default", "same", 0.0))
    plus5 = r["after_plus5_left"]
    assert plus5["ci_low"] > 0 and abs(plus5["diff"] - 5.0) < 1.0
    same = r["after_same_left"]
    half = (same["ci_high"] - same["ci_low"]) / 2
    assert 0.1 < half < 1.5
    assert abs(same["diff"]) < 2.0 * half  # |z| < ~4: an unchanged pair never looks like +5
    # the analysis tracks the true strides: its diff is close to the diff of the truth
    assert abs(plus5["diff"] - r["after_plus5_left_truth"]["diff"]) < 0.5
    assert abs(r["after_plus5_right"]["diff"]) < 2.0 * half + 0.3
    # the kept-on error budget (analysis + temperature) is in the analysis CI, not in the truth CI
    from imugait.compare.budget import load_budget

    sd = load_budget().session_sd("rom_deg", "kept_on", same["before_median"])
    assert same["measurement_sd"] == pytest.approx(2 ** 0.5 * sd, rel=0.05)  # + κ·diff; after median ≈ before
    assert same["boot_sd"] ** 2 == pytest.approx(same["sampling_sd"] ** 2 + same["measurement_sd"] ** 2, rel=0.25)  # 500 replicates
    assert r["after_same_left_truth"]["measurement_sd"] == 0.0
    assert plus5["measurement_sd"] > same["measurement_sd"]  # + κ·diff
    s = tool.summarise([r])
    assert s["n_seeds"] == 1 and s["analysis_plus5_excludes0_pct"] == 100.0
    # guard band: the reported interval contains the plain one
    assert same["ci_low"] < same["ci_low_exact"] < same["ci_high_exact"] < same["ci_high"]
    # the error table is re-measured from such rows (one condition per file)
    import json

    f = tmp_path / "dev.partial.jsonl"
    f.write_text(json.dumps(r) + "\n")
    table = tool.measure_error([str(f)])
    rom = table["files"][str(f)]["rom_deg"]
    assert rom["n"] == 3 and 0 < rom["sigma_s"] < 1.0  # both legs unchanged + the right leg of the +5° pair
    assert table["max"]["rom_deg"]["sigma_s"] == rom["sigma_s"]


@pytest.mark.slow
def test_independent_error_slice(tool):
    """``--errors budget``: kept-on and re-strapped triplets with errors drawn from the budget."""
    r = tool.run_seed_budget((3, 60.0, "run", 3.0, 500, 1.0, 0.0, 0.0))  # odd seed: re-strapped with other sensors
    for side in ("left", "right"):
        for pair in ("after_same", "after_plus5"):
            assert r[f"kept_on_{pair}_{side}"]["regime"] == "kept_on"
            assert r[f"restrapped_{pair}_{side}"]["regime"] == "restrapped"
    k, m = r["kept_on_after_plus5_left"], r["restrapped_after_plus5_left"]
    assert k["ci_low"] <= 5.0 <= k["ci_high"] and k["ci_low"] > 0
    assert m["placement_sd"] > 0 and m["sensor_sd"] > 0 and k["placement_sd"] == 0 == k["sensor_sd"]
    assert (m["ci_high"] - m["ci_low"]) > 3 * (k["ci_high"] - k["ci_low"])
    s = tool.summarise_budget([r])
    assert s["kept_on"]["legs"] == 4 and s["restrapped"]["regime_recognised_pct"] == 100.0

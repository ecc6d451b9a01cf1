"""imugait reprocess: parallel batch over folders, combined tables, provenance, failures, Dask."""

import json
import shutil

import pandas as pd
import pytest

from imugait import open_session
from imugait.compare.reprocess import EXIT_ALL_FAILED, EXIT_OK, EXIT_PARTIAL, reprocess
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig
from cli_helper import run_cli

RUN = SimConfig(gait="run", duration_s=40, speed_mps=3.0)


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep_master")
    write_sim_session(d / "r1.h5", RUN.replace(seed=1), {"subject_id": "A", "condition": "pre"})
    write_sim_session(d / "sub" / "r2.h5", RUN.replace(seed=2, gait="walk", speed_mps=1.3),
                      {"subject_id": "B", "condition": "post"})
    return d


@pytest.fixture
def tree(master, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(master, d)
    (d / "sub" / "broken.h5").write_bytes(b"this is not a session")
    return d


def test_reprocess_folder_with_a_broken_file(tree, tmp_path):
    out = tmp_path / "out"
    res = reprocess([tree], jobs=1, out_dir=out, progress=False)
    assert res.exit_code == EXIT_PARTIAL
    s = res.sessions.set_index("name")
    assert s.loc["broken", "ok"] == False  # noqa: E712
    assert "not an HDF5 file" in s.loc["broken", "error"]
    assert bool(s.loc["r1", "ok"]) and bool(s.loc["r2", "ok"])
    # combined tables (CSV and Parquet) with metadata columns
    csv = pd.read_csv(out / "strides.csv")
    pq = pd.read_parquet(out / "strides.parquet")
    assert len(csv) == len(pq) == len(res.table) > 50
    assert set(csv.session) == {"r1", "r2"} and set(csv.subject_id) == {"A", "B"}
    assert {"file", "condition", "created_utc", "algorithm_version", "params_sha256", "rom_deg"} <= set(csv.columns)
    assert (out / "sessions" / "r1.strides.csv").exists() and (out / "sessions" / "r2.summary.json").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["n_ok"] == 2 and prov["n_failed"] == 1 and len(prov["params_sha256"]) == 64
    assert all(len(f["raw_sha256"]) == 64 for f in prov["files"] if f["ok"])
    # results were written into the sessions
    with open_session(tree / "r1.h5") as ses:
        assert ses.derived_current and len(ses.strides) == s.loc["r1", "n_strides"]


def test_second_run_reuses_then_replace_recomputes(tree, tmp_path):
    reprocess([tree / "r1.h5"], jobs=1, out_dir=tmp_path / "a", progress=False)
    r = reprocess([tree / "r1.h5"], jobs=1, out_dir=tmp_path / "b", progress=False)
    assert list(r.sessions.status) == ["up-to-date"]
    r = reprocess([tree / "r1.h5"], jobs=1, out_dir=tmp_path / "c", progress=False, params={"rom_floor_deg": 14.0})
    assert list(r.sessions.status) == ["processed"]
    with open_session(tree / "r1.h5") as ses:
        assert len(ses.derived_runs) == 2
    r = reprocess([tree / "r1.h5"], jobs=1, out_dir=tmp_path / "d", progress=False, replace=True)
    assert r.exit_code == EXIT_OK
    with open_session(tree / "r1.h5") as ses:
        assert len(ses.derived_runs) == 1


def test_no_write_leaves_sessions_untouched(tree, tmp_path):
    before = (tree / "r1.h5").read_bytes()
    r = reprocess([tree / "r1.h5"], jobs=1, out_dir=tmp_path / "o", write=False, progress=False)
    assert r.exit_code == EXIT_OK and list(r.sessions.status) == ["analysed (not written)"]
    assert (tree / "r1.h5").read_bytes() == before


def test_cli_parallel_jobs_and_exit_codes(tree, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"rom_floor_deg": 12.0}))
    assert run_cli(["reprocess", tree, "--jobs", "2", "--out", tmp_path / "o", "--params", params, "-q"]) == EXIT_PARTIAL
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["params"]["rom_floor_deg"] == 12.0 and prov["jobs"] == 2
    assert run_cli(["reprocess", tree / "sub" / "broken.h5", "--out", tmp_path / "o2", "-q"]) == EXIT_ALL_FAILED


def test_dask_local_cluster_matches_local_run(master, tmp_path):
    pytest.importorskip("distributed")
    local = reprocess([master], jobs=1, out_dir=tmp_path / "l", write=False, progress=False)
    dask = reprocess([master], jobs=2, out_dir=tmp_path / "d", write=False, progress=False, scheduler="local")
    assert dask.exit_code == EXIT_OK
    cols = ["session", "side", "ic_s", "rom_deg", "valid"]
    pd.testing.assert_frame_equal(local.table[cols].reset_index(drop=True), dask.table[cols].reset_index(drop=True))
    assert json.loads((tmp_path / "d" / "provenance.json").read_text())["scheduler"] == "local"

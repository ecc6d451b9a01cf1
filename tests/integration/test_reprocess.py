"""imugait reprocess: parallel batch over folders, combined tables, provenance, failures, Dask."""

import json
import shutil

import pandas as pd
import pytest
from cli_helper import run_cli

from imugait import open_session
from imugait.compare.reprocess import EXIT_ALL_FAILED, EXIT_OK, EXIT_PARTIAL, reprocess
from imugait.compare.simdata import write_sim_session
from imugait.sim.gait import SimConfig

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


def test_cli_folder_without_sessions_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(["reprocess", tmp_path / "empty", "--out", tmp_path / "o", "-q"]) == 1
    err = capsys.readouterr().err
    assert "empty" in err and "no session file" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_dask_local_cluster_matches_local_run(master, tmp_path):
    pytest.importorskip("distributed")
    local = reprocess([master], jobs=1, out_dir=tmp_path / "l", write=False, progress=False)
    dask = reprocess([master], jobs=2, out_dir=tmp_path / "d", write=False, progress=False, scheduler="local")
    assert dask.exit_code == EXIT_OK
    cols = ["session", "side", "ic_s", "rom_deg", "valid"]
    pd.testing.assert_frame_equal(local.table[cols].reset_index(drop=True), dask.table[cols].reset_index(drop=True))
    assert json.loads((tmp_path / "d" / "provenance.json").read_text())["scheduler"] == "local"


def _part(file, n, **extra):
    df = pd.DataFrame({"file": file, "session": file, "side": "left", "rom_deg": [40.0 + i for i in range(n)],
                       "valid": [True] * n})
    for k, v in extra.items():
        df[k] = v
    return df


def test_combined_table_streams_in_file_order(tmp_path):
    from imugait.compare.reprocess import _CombinedWriter

    order = {f: i for i, f in enumerate(["a", "b", "c", "d"])}
    w = _CombinedWriter(tmp_path, order, keep=False)
    w.add({"file": "c", "ok": True, "table": _part("c", 3)})  # finished first, written after a and b
    assert not (tmp_path / "strides.csv").exists() and len(w.pending) == 1
    w.add({"file": "a", "ok": True, "table": _part("a", 2)})
    w.add({"file": "d", "ok": True, "table": _part("d", 1, extra_col=1.0)})  # a column the first lacks
    w.add({"file": "b", "ok": False, "table": None})  # failed: nothing to write, order goes on
    w.close()
    assert w.pending == {} and w.n_rows == 6 and w.column_mismatch == ["d"] and not w.parquet_error
    csv = pd.read_csv(tmp_path / "strides.csv")
    pq = pd.read_parquet(tmp_path / "strides.parquet")
    assert list(csv.file) == ["a", "a", "c", "c", "c", "d"] and list(csv.columns) == list(_part("a", 1).columns)
    pd.testing.assert_frame_equal(pq, csv, check_dtype=False)


def test_output_folder_result_reads_the_table_back(master, tmp_path):
    res = reprocess([master], jobs=1, out_dir=tmp_path / "o", write=False, progress=False)
    assert res._table is None  # streamed to disk, not held
    mem = reprocess([master], jobs=1, out_dir=None, write=False, progress=False)
    assert res.n_strides == len(mem.table) == len(res.table) > 50
    cols = ["session", "side", "ic_s", "rom_deg", "valid"]
    pd.testing.assert_frame_equal(res.table[cols], mem.table[cols])


def test_unreachable_scheduler_is_one_sentence_and_keeps_earlier_output(master, tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "o"
    assert run_cli(["reprocess", master / "r1.h5", "--no-write", "--out", out, "-q"]) == EXIT_OK
    before = (out / "strides.csv").read_bytes()
    assert run_cli(["reprocess", master, "--no-write", "--out", out, "-q", "--scheduler", "not-an-address"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at not-an-address" in err and "Traceback" not in err
    assert (out / "strides.csv").read_bytes() == before


def test_dask_scheduler_address(master, tmp_path, monkeypatch):
    """``--scheduler tcp://…``: an already running cluster (started here on this machine)."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        res = reprocess([master], out_dir="rel_out", write=False, progress=False, scheduler=cl.scheduler_address)
    assert res.exit_code == EXIT_OK and res.n_strides > 50
    assert sorted(p.name for p in (tmp_path / "rel_out" / "sessions").glob("*.csv")) == ["r1.strides.csv",
                                                                                        "r2.strides.csv"]
    prov = json.loads((tmp_path / "rel_out" / "provenance.json").read_text())
    assert prov["scheduler"] == cl.scheduler_address and prov["n_strides"] == len(res.table)

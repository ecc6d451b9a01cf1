"""Red-team regression tests for issue 14 (install path and inputs): each case is what a user
fed imugait, and the answer must be one sentence naming the file/field and the fix with a
non-zero exit, or a correct result with a warning — never a traceback, never a confident
wrong number. Inputs are small generated files (one simulated walk, written in many shapes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from repo_paths import REPO

from imugait.analysis import analyze
from imugait.cli import main
from imugait.errors import InputFileError
from imugait.inputcheck import InputWarning
from imugait.sim.gait import SimConfig, simulate
from imugait.store.csvio import write_imu_csv

ROOT = REPO
COLS = ["time_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps"]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A 30 s simulated walk at 200 Hz (5 s standing first) as a DataFrame and a clean CSV."""
    rec = simulate(SimConfig(gait="walk", duration_s=30.0, fs_hz=200.0, seed=3))
    s = rec.sides["left"]
    d = tmp_path_factory.mktemp("walk")
    p = write_imu_csv(d / "clean.csv", s.t_true_s, s.acc_mps2, s.gyr_dps)
    df = pd.read_csv(p)
    return df, p


@pytest.fixture
def cli(capsys):
    def run(*args):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def _write(df: pd.DataFrame, path: Path, **kw) -> Path:
    df.to_csv(path, index=False, **kw)
    return path


def _rom(summary_path: Path) -> float:
    return json.loads(Path(summary_path).read_text())["sides"]["left"]["metrics"]["rom_deg"]["median"]


def _one_sentence(code, err, *words):
    assert code != 0, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("imugait:") or ln.startswith("Error:")]
    assert lines, err
    for w in words:
        assert w in err, (w, err)


# ----------------------------------------------------------------------------- wrong units
@pytest.mark.parametrize("case, change, words", [
    ("acc in g under _mps2", lambda d: d.assign(**{c: d[c] / 9.80665 for c in COLS[1:4]}), ["look like g", "acc_x_g"]),
    ("acc in mg under _mps2", lambda d: d.assign(**{c: d[c] * 1000 / 9.80665 for c in COLS[1:4]}), ["look like mg"]),
    ("gyro in rad/s under _dps", lambda d: d.assign(**{c: np.deg2rad(d[c]) for c in COLS[4:]}), ["look like rad/s", "gyr_x_rps"]),
    ("gyro in deg/s under _rps", lambda d: d.rename(columns={c: c.replace("_dps", "_rps") for c in COLS[4:]}),
     ["look like deg/s", "gyr_x_dps"]),
    ("time in ms under time_s", lambda d: d.assign(time_s=d.time_s * 1000), ["look like ms", "time_ms"]),
    ("time in us under time_s", lambda d: d.assign(time_s=d.time_s * 1e6), ["look like µs", "time_us"]),
    ("time in s under time_ms", lambda d: d.rename(columns={"time_s": "time_ms"}), ["look like s"]),
])
def test_wrong_unit_is_named_and_never_gives_strides(walk, tmp_path, cli, case, change, words):
    df, _ = walk
    p = _write(change(df.copy()), tmp_path / "left.csv")
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "res", "--quiet")
    _one_sentence(code, err, "left.csv", *words)
    assert not (tmp_path / "res" / "strides.csv").exists()
    code, out, err = cli("import", "--left", p, "--out", tmp_path / "s.h5")
    _one_sentence(code, err, "left.csv", *words)
    assert not (tmp_path / "s.h5").exists()


def test_wrong_units_through_the_python_api(walk):
    df, _ = walk
    t, acc, gyr = df.time_s.to_numpy(), df[COLS[1:4]].to_numpy(), df[COLS[4:]].to_numpy()
    with pytest.raises(InputFileError, match="look like g.*acc_mps2 in m/s²"):
        analyze(left=(t, acc / 9.80665, gyr))
    with pytest.raises(InputFileError, match="look like ms.*t_s in seconds"):
        analyze(left=(t * 1000, acc, gyr))
    with pytest.raises(InputFileError, match="look like rad/s"):
        analyze(left=(t, acc, np.deg2rad(gyr)))


def test_fs_that_contradicts_the_time_stamps(walk, tmp_path, cli):
    df, p = walk
    code, out, err = cli("analyze", "--left", p, "--fs", "100", "--out", tmp_path / "r", "--quiet")
    _one_sentence(code, err, "--fs 100 Hz disagrees", "200 Hz")
    # the Python API gets the nominal rate as a hint: a warning, and the time stamps' rate
    t, acc, gyr = df.time_s.to_numpy(), df[COLS[1:4]].to_numpy(), df[COLS[4:]].to_numpy()
    ref = analyze(left=(t, acc, gyr)).summary["sides"]["left"]["metrics"]["rom_deg"]["median"]
    with pytest.warns(InputWarning, match="nominal rate 100 Hz disagrees"):
        res = analyze(left=(t, acc, gyr), fs_hz=100.0)
    assert res.summary["sides"]["left"]["metrics"]["rom_deg"]["median"] == pytest.approx(ref, abs=1e-9)
    assert res.summary["sides"]["left"]["fs_hz"] == pytest.approx(200.0, rel=1e-3)


@pytest.mark.parametrize("value", ["-5", "nan", "1e6", "0", "inf", "abc"])
def test_absurd_fs_is_one_sentence(walk, tmp_path, cli, value):
    _, p = walk
    code, out, err = cli("analyze", "--left", p, "--fs", value, "--out", tmp_path / "r", "--quiet")
    _one_sentence(code, err, "--fs", "between 10 and 2000")


def test_absurd_cell_names_the_line(walk, tmp_path, cli):
    df, _ = walk
    bad = df.copy()
    bad.loc[1000, "acc_x_mps2"] = 1e308
    p = _write(bad, tmp_path / "left.csv")
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    _one_sentence(code, err, "left.csv line 1002", "1e+308", "beyond any sensor's range")


# ----------------------------------------------------------------------------- real-world clocks
def _clock(df, kind):
    d = df.copy()
    t = d.time_s.to_numpy()
    k = np.arange(len(t))
    if kind == "10 ms clock":
        d["time_s"] = np.floor(t / 0.010) * 0.010
    elif kind == "BLE batches":
        b = 8
        last = np.minimum((k // b) * b + b - 1, len(t) - 1)
        d["time_s"] = t[last] + 0.007 + (k % b) * 1e-6
    elif kind == "1 ms phone jitter":
        d["time_s"] = np.round(t + np.random.default_rng(0).normal(0, 0.0012, len(t)), 3)
    elif kind == "2 s pause, 10 ms clock":
        d["time_s"] = np.floor((t + np.where(k >= 3000, 2.0, 0.0)) / 0.010) * 0.010
    return d


@pytest.mark.parametrize("kind", ["10 ms clock", "BLE batches", "1 ms phone jitter", "2 s pause, 10 ms clock"])
def test_coarse_clocks_are_refitted_with_a_warning_and_a_count(walk, tmp_path, cli, kind):
    df, clean = walk
    p = _write(_clock(df, kind), tmp_path / "left.csv", float_format="%.6f")
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert "warning: " in err and "re-fitted from the sample index" in err and "drop repeats" not in err
    summ = json.loads((tmp_path / "r" / "summary.json").read_text())
    tb = summ["sides"]["left"]["input"]["timebase"]
    assert tb["retimed"] and tb["n_retimed"] > 0 and summ["sides"]["left"]["input"]["warnings"]
    assert summ["sides"]["left"]["fs_hz"] == pytest.approx(200.0, rel=1e-3)
    code, out, err = cli("analyze", "--left", clean, "--out", tmp_path / "ref", "--quiet")
    if "pause" in kind:
        assert tb["n_gaps"] == 1  # the pause is a gap, not jitter
    else:
        assert _rom(tmp_path / "r" / "summary.json") == pytest.approx(_rom(tmp_path / "ref" / "summary.json"), abs=0.5)
    # import keeps the count with the session
    code, out, err = cli("import", "--left", p, "--out", tmp_path / "s.h5")
    assert code == 0 and "re-fitted" in err
    import imugait

    with imugait.open_session(tmp_path / "s.h5") as s:
        files = s.meta["source_info"]["files"]
    assert files[0]["timebase"]["n_retimed"] == tb["n_retimed"] and files[0]["warnings"]


def test_time_backwards_by_more_than_a_period_is_refused_with_the_line(walk, tmp_path, cli):
    df, _ = walk
    d = df.copy()
    d.loc[2000, "time_s"] = d.loc[1990, "time_s"]
    p = _write(d, tmp_path / "left.csv")
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    _one_sentence(code, err, "left.csv line 2002", "goes back", "sort the file")
    assert "drop repeats" not in err


# ----------------------------------------------------------------------------- messy logger files
def _messy(df: pd.DataFrame, d: Path, kind: str) -> Path:
    p = d / f"{kind}.csv"
    if kind == "bom_spaces":
        with open(p, "w", encoding="utf-8-sig") as f:
            f.write(" , ".join(f" {c} " for c in COLS) + "\n")
            df.to_csv(f, index=False, header=False)
    elif kind == "semicolon_decimal_comma":
        df.to_csv(p, index=False, sep=";", decimal=",")
    elif kind == "tabs":
        df.to_csv(p, index=False, sep="\t")
    elif kind == "brackets":
        x = df.copy()
        x.columns = ["Time [s]"] + [f"acc_{a} [m/s^2]" for a in "xyz"] + [f"Gyroscope {a} (rad/s)" for a in "xyz"]
        x[x.columns[4:]] = np.deg2rad(x[x.columns[4:]])
        x.to_csv(p, index=False)
    elif kind == "camel_g_ms":
        x = df.copy()
        x.columns = ["Time_ms", "AccX_g", "AccY_g", "AccZ_g", "GyrX_dps", "GyrY_dps", "GyrZ_dps"]
        x["Time_ms"] = x["Time_ms"] * 1000
        x[x.columns[1:4]] = x[x.columns[1:4]] / 9.80665
        x.to_csv(p, index=False)
    elif kind == "trailing_empty_columns":
        p.write_text("\n".join(ln + ",," for ln in df.to_csv(index=False).splitlines()) + "\n")
    elif kind == "mixed_line_endings":
        lines = df.to_csv(index=False).splitlines()
        p.write_bytes("".join(ln + ("\r\n" if i % 3 else "\n") for i, ln in enumerate(lines)).encode())
    elif kind == "utf16":
        p.write_bytes(df.to_csv(index=False).encode("utf-16"))
    elif kind == "cp1252_header_units_row":
        x = df.copy()
        x.columns = ["time", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
        body = x.to_csv(index=False).split("\n", 1)
        p.write_bytes((body[0] + "\ns,m/s^2,m/s^2,m/s^2,°/s,°/s,°/s\n" + body[1]).encode("cp1252"))
    elif kind == "epoch_us":
        x = df.copy()
        x.insert(0, "timestamp_us", (x.pop("time_s") * 1e6).round().astype(np.int64) + 1_733_000_000_000_000)
        x.to_csv(p, index=False)
    elif kind == "comments_extra_columns":
        x = df.copy()
        x["temp_c"] = 25.0
        p.write_text("# exported by SomeLogger 2.1\n# sensor 42\n" + x.to_csv(index=False))
    return p


@pytest.mark.parametrize("kind", ["bom_spaces", "semicolon_decimal_comma", "tabs", "brackets", "camel_g_ms",
                                  "trailing_empty_columns", "mixed_line_endings", "utf16", "cp1252_header_units_row",
                                  "epoch_us", "comments_extra_columns"])
def test_messy_logger_files_give_the_same_result(walk, tmp_path, cli, kind):
    df, clean = walk
    p = _messy(df, tmp_path, kind)
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    cli("analyze", "--left", clean, "--out", tmp_path / "ref", "--quiet")
    a = pd.read_csv(tmp_path / "r" / "strides.csv")
    b = pd.read_csv(tmp_path / "ref" / "strides.csv")
    assert len(a) == len(b) and a["valid"].sum() == b["valid"].sum()
    assert np.allclose(a["rom_deg"], b["rom_deg"], atol=0.05)
    assert np.allclose(a["ic_s"] - a["ic_s"].iloc[0], b["ic_s"] - b["ic_s"].iloc[0], atol=0.002)


def test_a_semicolon_header_over_comma_rows_is_named(walk, tmp_path, cli):
    df, _ = walk
    p = tmp_path / "left.csv"
    text = df.to_csv(index=False).split("\n", 1)
    p.write_text(text[0].replace(",", ";") + "\n" + text[1])
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    _one_sentence(code, err, "line 2", "semicolons", "commas")


def test_duplicate_rows_and_a_cut_off_last_line(walk, tmp_path, cli):
    df, _ = walk
    lines = df.to_csv(index=False).splitlines()
    lines.insert(500, lines[499])  # a logger wrote a sample twice
    lines.append(lines[-1][:12])   # and was stopped mid-line
    p = tmp_path / "left.csv"
    p.write_text("\n".join(lines) + "\n")
    code, out, err = cli("analyze", "--left", p, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert "1 exact duplicate row(s) dropped (first: line 501)" in err and "(the last) is incomplete" in err


# ----------------------------------------------------------------------------- command-line values
def test_listed_tracebacks_are_sentences(tmp_path, cli):
    rec = simulate(SimConfig(gait="walk", duration_s=25.0, fs_hz=100.0, seed=1))
    d = tmp_path / "sim"
    d.mkdir()
    for side, s in rec.sides.items():
        write_imu_csv(d / f"{side}.csv", s.t_true_s, s.acc_mps2, s.gyr_dps)
    for cond in ("pre", "post"):
        code, out, err = cli("import", "--left", d / "left.csv", "--right", d / "right.csv", "--out",
                             tmp_path / f"{cond}.h5", "--subject", "R1", "--condition", cond)
        assert code == 0, err
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    code, out, err = cli("reprocess", tmp_path / "pre.h5", "--jobs", "-3", "--out", tmp_path / "rp")
    _one_sentence(code, err, "--jobs")
    code, out, err = cli("reprocess", tmp_path / "pre.h5", "--jobs", "1", "--out", a_file, "-q")
    _one_sentence(code, err, "--out names a file")
    assert a_file.read_text() == "x"
    code, out, err = cli("compare", tmp_path / "pre.h5", tmp_path / "post.h5", "--n-boot", "0", "--no-figures",
                         "--out", tmp_path / "c")
    _one_sentence(code, err, "--n-boot")
    code, out, err = cli("reprocess", tmp_path / "pre.h5", tmp_path / "post.h5", "--jobs", "1", "--out", tmp_path / "rp", "-q")
    assert code == 0, err
    code, out, err = cli("group", tmp_path / "rp", "--before", "pre", "--after", "pre")
    _one_sentence(code, err, "both name the condition 'pre'")


# ----------------------------------------------------------------------------- paths and trust
def test_outputs_never_follow_a_planted_symlink(walk, tmp_path, cli):
    _, clean = walk
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    out = tmp_path / "results"
    out.mkdir()
    (out / "strides.csv").symlink_to(precious)
    (out / "summary.json").symlink_to(precious)
    code, o, err = cli("analyze", "--left", clean, "--out", out, "--quiet")
    assert code == 0, err
    assert precious.read_text() == "keep me"
    assert not (out / "strides.csv").is_symlink() and (out / "strides.csv").stat().st_size > 100
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "left.csv").symlink_to(precious)
    (sim / "truth.json").symlink_to(precious)
    code, o, err = cli("simulate", "--duration", "5", "--out", sim)
    assert code == 0 and precious.read_text() == "keep me"


def test_a_symlinked_results_folder_inside_out_is_refused(tmp_path):
    from imugait.outputs import OutputPathError, subdir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sessions").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OutputPathError, match="symbolic link"):
        subdir(out, "sessions")


def test_group_labels_never_become_nested_folders(tmp_path):
    from imugait.outputs import safe_name

    for label in ("../../etc/pre", "a/b", "..", "", "post stretch", "pré\n"):
        name = safe_name(label)
        assert "/" not in name and name not in (".", "..") and name and "\n" not in name
    assert safe_name("post stretch") == "post-stretch"


def test_dask_trust_model_is_stated():
    from imugait.cli.compare import reprocess

    help_text = " ".join(o.help or "" for o in reprocess.params if o.name == "scheduler")
    assert "pickles" in help_text and "tls://" in help_text
    doc = (ROOT / "docs" / "compare.md").read_text()
    assert "Trust model of `--scheduler tcp://…`" in doc


# ----------------------------------------------------------------------------- install path
def test_core_dependencies_leave_qt_dask_and_matplotlib_to_extras():
    import tomllib

    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(proj["dependencies"]).lower()
    for heavy in ("pyside6", "pyqtgraph", "qasync", "matplotlib", "dask", "pyarrow"):
        assert heavy not in core, heavy
    extras = proj["optional-dependencies"]
    assert {"live", "dask", "reports", "dev"} <= set(extras)
    assert any("live" in x and "reports" in x for x in extras["dev"])  # the test suite's needs
    assert isinstance(proj["license"], str) and (ROOT / "imugait" / "py.typed").exists()
    assert (ROOT / "imugait" / "data" / "hugadb_walking_06" / "left.csv").exists()


@pytest.mark.parametrize("command, extra", [(["live", "--simulate"], "live"),
                                             (["compare", "a.h5", "b.h5"], "reports"),
                                             (["reprocess", "x.h5", "--scheduler", "local"], "dask")])
def test_a_missing_extra_is_named(tmp_path, command, extra):
    blocked = {"live": "PySide6", "reports": "matplotlib", "dask": "distributed"}[extra]
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            "from imugait.cli import main\n"
            f"main({command!r})")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert f'pip install "imugait[{extra}]"' in r.stderr


# ----------------------------------------------------------------------------- recording
def test_record_simulate_fast_speeds_lose_nothing_and_rate_is_honest(tmp_path, cli):
    code, out, err = cli("record", "--simulate", "--duration", "20", "--speed", "1e9", "--out", tmp_path / "f.h5",
                         "--quiet", "--no-analyze")
    assert code == 0, err
    import imugait

    with imugait.open_session(tmp_path / "f.h5") as s:
        for side in s.sides:
            assert s.stats(side)["gap_pct"] == 0.0 and s.stats(side)["n_samples"] >= 20 * 200
    code, out, err = cli("record", "--simulate", "--duration", "5", "--rate", "2000", "--out", tmp_path / "r.h5")
    _one_sentence(code, err, "--rate", "1600")
    code, out, err = cli("record", "--simulate", "--duration", "8", "--rate", "400", "--speed", "20",
                         "--out", tmp_path / "r.h5", "--quiet", "--no-analyze")
    assert code == 0, err
    with imugait.open_session(tmp_path / "r.h5") as s:
        assert s.sensor_info("left").sample_rate_hz == pytest.approx(400.0)
    code, out, err = cli("record", "--simulate", "--duration", "10", "--loss-pct", "5", "--speed", "20",
                         "--out", tmp_path / "l.h5", "--quiet", "--no-analyze")
    assert code == 0 and "sensor lost" in err and "sample(s)" in err


def test_compare_with_a_too_short_session_says_so(tmp_path, cli):
    for name, dur in (("long", 40), ("short", 5)):
        code, out, err = cli("record", "--simulate", "--duration", dur, "--speed", "20", "--out", tmp_path / f"{name}.h5",
                             "--quiet", "--no-analyze")
        assert code == 0, err
    code, out, err = cli("compare", tmp_path / "long.h5", tmp_path / "short.h5", "--no-figures", "--out", tmp_path / "c")
    text = out + err
    assert "too short" in text and "recorded only before" not in text


@pytest.mark.gui
def test_live_with_bluetooth_unreachable_is_a_sentence_and_fails(tmp_path):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-bus", QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-m", "imugait", "live", "--left", "AA:BB:CC:DD:EE:01", "--duration", "2"],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode != 0, r.stderr
    assert "Bluetooth" in r.stderr and "Traceback" not in r.stderr


def test_warnings_from_the_api_are_python_warnings_not_prints(walk):
    df, _ = walk
    t = np.floor(df.time_s.to_numpy() / 0.01) * 0.01
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = analyze(left=(t, df[COLS[1:4]].to_numpy(), df[COLS[4:]].to_numpy()))
    assert any(issubclass(x.category, InputWarning) and "re-fitted" in str(x.message) for x in w)
    assert res.summary["sides"]["left"]["input"]["timebase"]["n_repeated"] > 0

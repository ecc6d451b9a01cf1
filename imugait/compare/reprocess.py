"""Batch reprocessing of many sessions, in parallel (local processes or Dask distributed).

``reprocess(paths, params=None, jobs=None, out_dir="reprocessed", ...)``:

1. Expand ``paths`` (files, folders searched recursively for ``*.h5``).
2. For each session, in a worker process: analyse the raw data with ``params`` and
   (default) store the results in the session (``imugait.app.process_session``, a new
   ``/derived/run-NNNN`` with provenance); a session whose current results were made by
   this algorithm version, these parameters and this raw data is *up to date* and reused
   unless ``replace``. ``write=False`` never modifies sessions (analysis only).
   Per session ``OUT/sessions/<name>.strides.csv`` and ``<name>.summary.json`` are written.
3. A failing file is reported (``OUT/sessions.csv`` column ``error``) and skipped.
4. One combined table ``OUT/strides.csv`` + ``OUT/strides.parquet`` (stride rows of every
   session in file order, streamed to disk as sessions finish — the parent never holds the
   whole batch; session metadata columns first: file, session, subject_id, condition,
   activity, created_utc, algorithm_version, params_sha256), ``OUT/sessions.csv`` (one row
   per file: status, error, counts, medians) and ``OUT/provenance.json`` (versions,
   parameters and their SHA-256, per-file raw-data SHA-256 and run id, the command,
   host, times, SHA-256 of the combined CSV).

Workers: ``jobs`` processes (default: all cores) via ``ProcessPoolExecutor``; ``jobs=1``
runs in this process. ``scheduler="local"`` starts a Dask ``LocalCluster`` with ``jobs``
worker processes; ``scheduler="tcp://host:8786"`` uses an existing Dask cluster — its
workers must see the same paths (shared file system) and have imugait installed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import socket
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from imugait._version import __version__
import imugait.extras as extras
import imugait.outputs as outputs
from imugait.analysis.metrics import HEADLINE_METRICS
from imugait.analysis import ALGORITHM_VERSION
from imugait.app import analyze_session, process_session
from imugait.app.redecode import redecode_session
from imugait.errors import ImugaitError, InputFileError
from imugait.store.importers import file_sha256
from imugait.store.reader import open_session
from imugait.compare.api import META_COLUMNS, add_meta_columns, analysis_params, expand_paths, params_dict, params_sha256

EXIT_OK = 0
EXIT_PARTIAL = 2
EXIT_ALL_FAILED = 1


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _session_names(files: list[Path]) -> dict[str, str]:
    """Output names: the file stem, plus a short hash of the path where stems repeat."""
    stems: dict[str, int] = {}
    for f in files:
        stems[f.stem] = stems.get(f.stem, 0) + 1
    out = {}
    for f in files:
        name = f.stem
        if stems[f.stem] > 1:
            name += "_" + hashlib.sha1(str(f.resolve()).encode()).hexdigest()[:6]
        out[str(f)] = name
    return out


def _same_params(stored_json: str | None, pdict: dict) -> bool:
    if not stored_json:
        return False
    try:
        return json.loads(stored_json) == json.loads(json.dumps(pdict, default=str))
    except ValueError:
        return False


def process_one(path: str, params: dict | None, out_dir: str | None, name: str | None = None,
                write: bool = True, replace: bool = False, redecode: bool = False) -> dict:
    """Reprocess one session; never raises (errors are returned). Runs in worker processes.
    ``redecode``: first decode the session again from its raw notifications into
    ``OUT/redecoded/<name>.h5`` (:mod:`imugait.app.redecode`; the original is not touched)
    and analyse that file."""
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"file": str(path), "name": name or Path(path).stem, "ok": False, "status": "failed", "error": "",
           "run_id": "", "raw_sha256": "", "n_strides": 0, "n_valid": 0, "seconds": 0.0, "table": None}
    try:
        if redecode:

            target = Path(out_dir or ".") / "redecoded" / f"{rec['name']}.h5"
            target.parent.mkdir(parents=True, exist_ok=True)
            redecode_session(path, target, overwrite=True)
            rec["redecoded"] = str(target)
            path = str(target)

        p = analysis_params(params)
        pdict = params_dict(p)
        phash = params_sha256(p)
        summary = None
        if write:

            up_to_date = False
            if not replace:
                with open_session(path) as s:
                    a = s.run_attrs()
                    up_to_date = bool(a) and s.derived_current and _same_params(a.get("parameters_json"), pdict)
            if not up_to_date:
                process_session(path, params=p, replace=replace)
            rec["status"] = "up-to-date" if up_to_date else "processed"
            with open_session(path) as s:
                df = s.strides
                summary = s.summary
                a = s.run_attrs() or {}
                rec["run_id"] = s.current_run or ""
                rec["raw_sha256"] = str(a.get("raw_sha256", ""))
                meta = {k: v for k, v in s.meta.items() if isinstance(v, (str, int, float, bool))}
                rec["duration_s"] = float(s.duration_s)
            meta["algorithm_version"] = str(a.get("algorithm_version", ALGORITHM_VERSION))
            meta["params_sha256"] = phash
        else:

            sa = analyze_session(path, params=p)  # the one session -> analysis path (partial/damage notes)
            with open_session(path) as s:
                meta = {k: v for k, v in s.meta.items() if isinstance(v, (str, int, float, bool))}
                rec["duration_s"] = float(s.duration_s)
            rec["raw_sha256"] = sa.raw_sha256
            rec["notes"] = "; ".join(sa.notes)
            df, summary = sa.result.strides, sa.result.summary
            meta["algorithm_version"] = ALGORITHM_VERSION
            meta["params_sha256"] = phash
            rec["status"] = "analysed (not written)"
        if df is None:
            df = pd.DataFrame()
        df = add_meta_columns(df, path, meta)
        rec["n_strides"] = int(len(df))
        rec["n_valid"] = int(df["valid"].astype(bool).sum()) if "valid" in df.columns else 0
        for k in ("subject_id", "condition", "activity", "created_utc"):
            rec[k] = str(meta.get(k, "") or "")
        if "valid" in df.columns and len(df):
            v = df[df["valid"].astype(bool)]
            for side in ("left", "right"):
                vs = v[v["side"] == side]
                for m in HEADLINE_METRICS:
                    if m in vs.columns and len(vs):
                        rec[f"{side}_{m}_median"] = float(vs[m].median())
        if out_dir:
            sd = outputs.subdir(out_dir, "sessions")
            with outputs.atomic_open(sd / f"{rec['name']}.strides.csv", newline="") as f:
                df.to_csv(f, index=False, float_format="%.6g")
            if summary is not None:
                outputs.write_text(sd / f"{rec['name']}.summary.json", json.dumps(summary, indent=1, default=str))
        rec["table"] = df
        rec["ok"] = True
    except Exception as e:  # noqa: BLE001 — a bad file must never stop the batch

        rec["error"] = str(e) if isinstance(e, ImugaitError) else f"{type(e).__name__}: {e}"
        if os.environ.get("IMUGAIT_DEBUG") == "1":
            rec["error"] += "\n" + traceback.format_exc()
    rec["seconds"] = time.perf_counter() - t0
    return rec


@dataclass
class ReprocessResult:
    sessions: pd.DataFrame       # one row per file (status, error, counts, medians)
    out_dir: Path | None
    provenance: dict = field(default_factory=dict)
    seconds: float = 0.0
    _table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_strides(self) -> int:
        """Rows of the combined stride table."""
        return int(self.provenance.get("n_strides", 0))

    @property
    def table(self) -> pd.DataFrame:
        """Combined strides of all successful sessions, in file order. Kept in memory when
        nothing was written (``out_dir=None``) or ``keep_table=True``; otherwise read from
        ``OUT/strides.parquet`` (``strides.csv`` if Parquet could not be written) on first use."""
        if self._table is None:
            pq = self.out_dir / "strides.parquet" if self.out_dir else None
            if pq is not None and pq.exists():
                self._table = pd.read_parquet(pq)
            elif self.out_dir is not None and (self.out_dir / "strides.csv").exists():
                self._table = pd.read_csv(self.out_dir / "strides.csv")
            else:
                self._table = pd.DataFrame(columns=list(META_COLUMNS))
        return self._table

    @property
    def failed(self) -> pd.DataFrame:
        return self.sessions[~self.sessions["ok"]] if len(self.sessions) else self.sessions

    @property
    def exit_code(self) -> int:
        if len(self.sessions) == 0 or not self.sessions["ok"].any():
            return EXIT_ALL_FAILED
        return EXIT_PARTIAL if (~self.sessions["ok"]).any() else EXIT_OK


def _init_worker():
    # one process per core: keep BLAS single-threaded in workers
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, "1")


class _CombinedWriter:
    """Writes the combined stride table (``strides.csv`` + ``strides.parquet``) session by
    session, in the order of the file list, as results come in — so the parent process holds
    one session's strides at a time (plus those that finished ahead of an earlier file),
    not the whole batch. Columns and Parquet schema are those of the first non-empty session;
    a later session with other columns is aligned to them (missing → empty) and reported.
    ``out=None``: keep the tables in memory instead (nothing is written)."""

    def __init__(self, out: Path | None, order: dict[str, int], keep: bool):
        self.out, self.order, self.keep = out, order, keep
        self.pending: dict[int, pd.DataFrame | None] = {}
        self.next = 0
        self.kept: list[pd.DataFrame] = []
        self.columns: list[str] | None = None
        self.n_rows = 0
        self.column_mismatch: list[str] = []
        self.parquet_error = ""
        self._pq: Any = None  # pyarrow.parquet.ParquetWriter once the first table arrives
        self._pq_file: outputs.AtomicFile | None = None
        self._csv: outputs.AtomicFile | None = None
        self._schema = None

    def add(self, r: dict) -> None:
        t = r.pop("table", None)
        self.pending[self.order[r["file"]]] = t if r.get("ok") and t is not None and len(t) else None
        while self.next in self.pending:
            self._write(self.pending.pop(self.next))
            self.next += 1

    def _write(self, df: pd.DataFrame | None) -> None:
        if df is None:
            return
        if self.columns is None:
            self.columns = list(df.columns)
        elif list(df.columns) != self.columns:
            self.column_mismatch.append(str(df["file"].iloc[0]))
            df = df.reindex(columns=self.columns)
        first = self.n_rows == 0
        self.n_rows += len(df)
        if self.keep:
            self.kept.append(df)
        if self.out is None:
            return
        if self._csv is None:
            self._csv = outputs.AtomicFile(self.out / "strides.csv", newline="")
        df.to_csv(self._csv.file, header=first, index=False, float_format="%.6g")
        if self.parquet_error:
            return
        if not extras.available("parquet"):
            self.parquet_error = f"pyarrow is not installed ({extras.install_hint('parquet')})"
            return
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._pq is None:
                tbl = pa.Table.from_pandas(df, preserve_index=False)
                self._schema = tbl.schema
                self._pq_file = outputs.AtomicFile(self.out / "strides.parquet", "wb")
                self._pq = pq.ParquetWriter(self._pq_file.file, self._schema)
            else:
                tbl = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
            self._pq.write_table(tbl)
        except Exception as e:  # noqa: BLE001 — pyarrow missing or odd dtypes: keep the CSV
            self.parquet_error = f"{type(e).__name__}: {e}"
            self._close_parquet(remove=True)

    def _close_parquet(self, remove: bool = False) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._pq_file is not None:
            if remove:
                self._pq_file.discard()
            else:
                self._pq_file.commit()
            self._pq_file = None

    def abort(self) -> None:
        """Stop after an error: close what is open, replace nothing (an earlier run's tables stay)."""
        self._close_parquet(remove=True)
        if self._csv is not None:
            self._csv.discard()
            self._csv = None

    def close(self) -> None:
        """Flush, and write empty tables (header only) when no session gave strides."""
        for i in sorted(self.pending):
            self._write(self.pending.pop(i))
        self._close_parquet()
        if self._csv is not None:
            self._csv.commit()
            self._csv = None
        if self.out is not None and self.columns is None:
            empty = pd.DataFrame(columns=list(META_COLUMNS))
            with outputs.atomic_open(self.out / "strides.csv", newline="") as f:
                empty.to_csv(f, index=False)
            if not extras.available("parquet"):
                self.parquet_error = f"pyarrow is not installed ({extras.install_hint('parquet')})"
                return
            try:
                with outputs.atomic_open(self.out / "strides.parquet", "wb") as f:
                    empty.to_parquet(f, index=False)
            except Exception as e:  # noqa: BLE001
                self.parquet_error = f"{type(e).__name__}: {e}"

    def table(self) -> pd.DataFrame:
        if self.kept:
            return pd.concat(self.kept, ignore_index=True)
        return pd.DataFrame(columns=self.columns or list(META_COLUMNS))


def _collect(done, kw, bar, where: str, sink: _CombinedWriter) -> list[dict]:
    """Gather results as they finish: ``done`` yields ``(file, get_result)``; each result's
    stride table goes to ``sink`` (and is dropped here); a worker that died is reported as a
    failed file, never fatal."""
    results = []
    for f, get in done:
        try:
            r = get()
        except Exception as e:  # noqa: BLE001 - worker died (e.g. out of memory)
            r = {"file": str(f), "name": kw[str(f)]["name"], "ok": False, "status": "failed",
                 "error": f"{where} failed: {type(e).__name__}: {e}", "table": None, "seconds": 0.0}
        r["file"] = str(f)
        sink.add(r)
        results.append(r)
        bar.update(1)
        if not r["ok"]:
            bar.write(f"FAILED {f}: {r['error']}")
    return results


def _run_local(files, kw, jobs, progress, sink):
    from tqdm import tqdm

    bar = tqdm(total=len(files), unit="session", desc="reprocess", disable=not progress, file=sys.stderr)
    try:
        if jobs == 1:
            return _collect(((f, lambda f=f: process_one(str(f), **kw[str(f)])) for f in files), kw, bar,
                            "analysis", sink)
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker) as ex:
            futs = {ex.submit(process_one, str(f), **kw[str(f)]): f for f in files}
            return _collect(((futs[fut], fut.result) for fut in as_completed(futs)), kw, bar, "worker", sink)
    finally:
        bar.close()


def _run_dask(files, kw, jobs, scheduler, progress, sink):
    from distributed import Client, LocalCluster
    from distributed import as_completed as d_as_completed
    from tqdm import tqdm

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as e:

            raise ImugaitError(
                f"cannot reach the Dask scheduler at {scheduler} ({e}) — start one there (`dask scheduler`, "
                "then `dask worker ADDRESS --nthreads 1` on each machine), check the address, "
                "or use --scheduler local") from e
    bar = tqdm(total=len(files), unit="session", desc="reprocess (dask)", disable=not progress, file=sys.stderr)
    try:
        futs = {}
        for f in files:
            # a remote worker's working directory is not ours: absolute paths
            where = str(f) if scheduler == "local" else str(Path(f).resolve())
            fut = client.submit(process_one, where, pure=False, **kw[str(f)])
            futs[fut.key] = (fut, f)
        return _collect(((futs[fut.key][1], fut.result) for fut in d_as_completed([v[0] for v in futs.values()])),
                        kw, bar, "dask worker", sink)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def reprocess(paths, params=None, jobs: int | None = None, out_dir="reprocessed", *, replace: bool = False,
              write: bool = True, scheduler: str | None = None, progress: bool = True,
              command: str | None = None, keep_table: bool | None = None, redecode: bool = False) -> ReprocessResult:
    """See the module docstring. ``params``: None | AnalysisParams | dict | JSON path.
    ``keep_table``: hold the combined stride table in memory (default: only when
    ``out_dir`` is None — with an output folder it is streamed to disk session by session
    and :attr:`ReprocessResult.table` reads it back on first use). Raises
    :class:`~imugait.errors.InputFileError` when ``paths`` hold no session file."""
    t0 = time.perf_counter()
    started = _now()
    p = analysis_params(params)
    pdict = params_dict(p)
    files = expand_paths(paths)
    if not files:

        raise InputFileError(", ".join(map(str, [paths] if isinstance(paths, (str, Path)) else paths)), None,
                             "holds no session file (*.h5)", "give session files or folders that contain them")
    jobs = int(jobs or os.cpu_count() or 1)
    names = _session_names(files)
    out = Path(out_dir) if out_dir else None
    if out:
        outputs.out_dir(out)
    remote = bool(scheduler) and scheduler != "local"  # its workers get absolute paths
    kw = {str(f): dict(params=pdict, out_dir=(str(out.resolve()) if remote else str(out)) if out else None,
                       name=names[str(f)], write=write, replace=replace, redecode=redecode) for f in files}
    order = {str(f): i for i, f in enumerate(files)}
    sink = _CombinedWriter(out, order, keep=(out is None) if keep_table is None else bool(keep_table))
    try:
        if scheduler:
            results = _run_dask(files, kw, jobs, scheduler, progress, sink)
        else:
            results = _run_local(files, kw, min(jobs, len(files)), progress, sink)
    except BaseException:
        sink.abort()  # no empty tables over an earlier run's when nothing ran (e.g. no scheduler)
        raise
    sink.close()
    results.sort(key=lambda r: order.get(r["file"], 0))
    sessions = pd.DataFrame([{k: v for k, v in r.items() if k != "table"} for r in results])
    if sessions.empty:
        sessions = pd.DataFrame(columns=["file", "name", "ok", "status", "error"])
    seconds = time.perf_counter() - t0

    prov = {
        "tool": "imugait reprocess",
        "imugait_version": __version__,
        "algorithm_version": ALGORITHM_VERSION,
        "params": pdict,
        "params_sha256": params_sha256(p),
        "command": command or " ".join(sys.argv),
        "started_utc": started,
        "finished_utc": _now(),
        "seconds": round(seconds, 3),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "jobs": jobs,
        "scheduler": scheduler or "local processes",
        "write_into_sessions": write,
        "replace": replace,
        "n_files": len(files),
        "n_ok": int(sessions["ok"].sum()) if len(sessions) else 0,
        "n_failed": int((~sessions["ok"].astype(bool)).sum()) if len(sessions) else 0,
        "n_strides": sink.n_rows,
        "files": [{k: r.get(k) for k in ("file", "name", "ok", "status", "error", "run_id", "raw_sha256",
                                           "n_strides", "n_valid")} for r in results],
    }
    if sink.column_mismatch:
        prov["column_mismatch"] = {"note": "columns differ from the first session's; aligned to them",
                                   "files": sink.column_mismatch}
    if sink.parquet_error:
        prov["parquet_error"] = sink.parquet_error
    if out:
        with outputs.atomic_open(out / "sessions.csv", newline="") as f:
            sessions.to_csv(f, index=False)

        prov["strides_csv_sha256"] = file_sha256(out / "strides.csv")
        outputs.write_text(out / "provenance.json", json.dumps(prov, indent=2, default=str))
    return ReprocessResult(sessions=sessions, out_dir=out, provenance=prov, seconds=seconds,
                           _table=sink.table() if sink.keep else None)

"""Hip-flexor (modified Thomas) test results in a session file: store a result (computed by
:func:`imugait.app.analyze_flexor_session` from the session's raw data) as a run of the ``/flexor_test`` group (layout in
:mod:`imugait.store.flexor_schema` and ``docs/session-schema.md``; read it back with
``open_session(path).flexor_test``).

The raw data the result came from stays in ``/sensors`` untouched; a run is *current* when
its ``raw_sha256`` matches the raw data now in the file and its ``algorithm_version`` is
:data:`imugait.analysis.flexor.FLEXOR_ALGORITHM_VERSION`.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from imugait._version import __version__
from imugait.analysis.flexor import FLEXOR_ALGORITHM_VERSION, FlexorResult
from imugait.store.flexor_schema import GROUP, HOLD_COLUMNS
from imugait.store.results import next_run_id, recover_if_interrupted
from imugait.store.reader import open_session
from imugait.store.writer import RESULTS_WAIT_S, SessionLock, rewrite_session, utc_now_iso


def write_result(path, result: FlexorResult, replace: bool = False) -> str:
    """Store ``result`` as a new run of ``/flexor_test`` (earlier runs kept unless ``replace``);
    returns the run id. Raw data is never written here. Written atomically under the session
    lock, like the gait results (:func:`imugait.store.writer.rewrite_session`): a kill at any
    moment leaves the file as it was or with the new run."""
    path = Path(path)
    with SessionLock(path, "analysed", wait_s=RESULTS_WAIT_S) as lock:
        recover_if_interrupted(path, lock)
        with open_session(path) as s:
            raw_hash = s.raw_sha256()

        def _edit(f):
            g = f.require_group(GROUP)
            g.attrs["description"] = ("Hip-flexor (modified Thomas) test results; attribute 'current' names the "
                                      "run in use. See docs/flexor-test.md.")
            if replace:
                for k in list(g):
                    del g[k]
            run_id = next_run_id(g)
            r = g.create_group(run_id)
            r.attrs["algorithm_version"] = FLEXOR_ALGORITHM_VERSION
            r.attrs["parameters_json"] = json.dumps(result.params.to_dict(), sort_keys=True)
            r.attrs["raw_sha256"] = raw_hash
            r.attrs["imugait_version"] = __version__
            r.attrs["created_utc"] = utc_now_iso()
            r.attrs["source"] = str(result.source or path)
            ds = r.create_dataset("result_json", data=json.dumps(result.to_dict(), allow_nan=False),
                                  dtype=h5py.string_dtype("utf-8"))
            ds.attrs["units"] = ""
            ds.attrs["description"] = "flexor_test.json of this run (docs/flexor-test.md)"
            h = r.create_group("holds")
            h.attrs["columns"] = json.dumps([c for c, _u, _d in HOLD_COLUMNS])
            rows = result.holds
            data = {
                "side": [x.side for x in rows], "start_s": [x.start_s for x in rows], "end_s": [x.end_s for x in rows],
                "thigh_below_horizontal_deg": [x.value for x in rows], "steadiness_deg": [x.steadiness for x in rows],
                "hugged_thigh_flexion_deg": [x.hugged_thigh_flexion_deg for x in rows],
                "flags": [",".join(x.flags) for x in rows],
            }
            for name, unit, desc in HOLD_COLUMNS:
                if unit == "":
                    d = h.create_dataset(name, data=np.array(data[name], dtype=object),
                                         dtype=h5py.string_dtype("utf-8"))
                else:
                    d = h.create_dataset(name, data=np.asarray(data[name], dtype=np.float64))
                d.attrs["units"] = unit
                d.attrs["description"] = desc
            g.attrs["current"] = run_id
            return run_id

        return rewrite_session(path, _edit, lock=lock, tag="results", doing="store the flexor test result in it")


__all__ = ["GROUP", "HOLD_COLUMNS", "write_result"]

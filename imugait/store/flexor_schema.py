"""Names and layout of the hip-flexor test group in a session file (schema v1 addition).

::

    /flexor_test/              attrs: current=<run-id>, description
        run-NNNN/              attrs: algorithm_version, parameters_json, raw_sha256,
                                      imugait_version, created_utc, source
            result_json        the flexor_test.json of that run (scalar UTF-8 string)
            holds/             one row per accepted hold (HOLD_COLUMNS)

Written by :func:`imugait.store.flexor.write_result`, read by
:attr:`imugait.store.reader.Session.flexor_test` (through :func:`read_group`). Human
description: ``docs/session-schema.md``, section "Hip-flexor test".
"""

from __future__ import annotations

import json
from typing import Callable

from imugait.analysis.flexor import FLEXOR_ALGORITHM_VERSION
from imugait.errors import InputFileError

GROUP = "flexor_test"

HOLD_COLUMNS = (
    ("side", "", "Tested (hanging) leg: left or right."),
    ("start_s", "s", "Start of the hold (session time)."),
    ("end_s", "s", "End of the hold (session time)."),
    ("thigh_below_horizontal_deg", "deg", "Median angle of the tested thigh's long axis to the horizontal "
                                          "during the hold; + knee below the hip, - thigh above the horizontal."),
    ("steadiness_deg", "deg", "SD of the tested thigh's angle during the hold."),
    ("hugged_thigh_flexion_deg", "deg", "The hugged thigh's angle from the table toward the head (90 = vertical)."),
    ("flags", "", "Comma-separated quality flags (hug_shallow, unsteady, short_hold, interrupted)."),
)


def _str(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def read_group(group, raw_sha256: Callable[[], str], path, run_id: str | None = None) -> dict | None:
    """The stored result of the current (or the given) run of ``group`` (the h5py group
    ``/flexor_test`` or None): the ``flexor_test.json`` dict with ``run_id`` and ``current``
    (its raw-data hash and algorithm version match the file and this imugait) added."""
    if group is None:
        return None
    run_id = run_id or _str(group.attrs.get("current", ""))
    if not run_id or run_id not in group:
        return None
    r = group[run_id]
    try:
        d = json.loads(_str(r["result_json"][()]))
    except (KeyError, ValueError) as e:
        raise InputFileError(path, f"/{GROUP}/{run_id}/result_json", f"cannot be read ({e})",
                             "re-run `imugait flexor-test FILE.h5`") from None
    d["run_id"] = run_id
    d["current"] = (_str(r.attrs.get("raw_sha256", "")) == raw_sha256()
                    and _str(r.attrs.get("algorithm_version", "")) == FLEXOR_ALGORITHM_VERSION)
    return d

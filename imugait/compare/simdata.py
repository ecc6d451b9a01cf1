"""Simulated sessions for validation, tests, benchmarks and examples.

``write_sim_session(path, SimConfig(...))`` writes a simulator recording straight into an
HDF5 session (no BLE, device clock mapped to the true session time), the same layout
``imugait record`` produces. ``sim_arrays(rec)`` gives the analysis inputs in memory.
"""

from __future__ import annotations

from pathlib import Path

from imugait.sim.gait import SimConfig, SimRecording, simulate
from imugait.store.importers import SideArrays, write_arrays


def sim_arrays(rec) -> dict:
    """``{side: (t_s, acc_mps2, gyr_dps)}`` of a ``SimRecording`` (true session time)."""
    return {side: (s.t_true_s, s.acc_mps2, s.gyr_dps) for side, s in rec.sides.items()}


def write_sim_session(path, cfg_or_rec: SimConfig | SimRecording, meta: dict | None = None,
                      block_s: float = 1.0) -> Path:
    """Simulate (if given a ``SimConfig``) and write a session file (atomically, through the
    one array writer :func:`imugait.store.importers.write_arrays`); returns its path."""
    rec = simulate(cfg_or_rec) if isinstance(cfg_or_rec, SimConfig) else cfg_or_rec
    cfg = rec.config
    m = {"source": "simulated", "activity": cfg.gait,
         "source_json": {"generator": "imugait.sim.gait", "config": cfg.to_dict()}}
    m.update(meta or {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sides = {side: SideArrays(s.info, s.t_true_s, s.acc_counts, s.gyr_counts, t_dev_s=s.t_dev_s,
                              sample_index=s.sample_index) for side, s in rec.sides.items()}
    rate_hz = max(s.info.sample_rate_hz for s in rec.sides.values())
    return write_arrays(path, m, sides, overwrite=True, block_samples=max(1, int(round(block_s * rate_hz))),
                        reason="simulation written")

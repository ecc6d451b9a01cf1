"""Simulated sessions for validation, tests, benchmarks and examples.

``write_sim_session(path, SimConfig(...))`` writes a simulator recording straight into an
HDF5 session (no BLE, device clock mapped to the true session time), the same layout
``imugait record`` produces. ``sim_arrays(rec)`` gives the analysis inputs in memory.
"""

from __future__ import annotations

from pathlib import Path



def sim_arrays(rec) -> dict:
    """``{side: (t_s, acc_mps2, gyr_dps)}`` of a ``SimRecording`` (true session time)."""
    return {side: (s.t_true_s, s.acc_mps2, s.gyr_dps) for side, s in rec.sides.items()}


def write_sim_session(path, cfg_or_rec, meta: dict | None = None, block_s: float = 1.0) -> Path:
    """Simulate (if given a ``SimConfig``) and write a session file; returns its path."""
    from imugait.sim.gait import SimConfig, simulate
    from imugait.store.writer import SessionWriter
    from imugait.types import SampleBlock

    rec = simulate(cfg_or_rec) if isinstance(cfg_or_rec, SimConfig) else cfg_or_rec
    cfg = rec.config
    m = {"source": "simulated", "activity": cfg.gait,
         "source_json": {"generator": "imugait.sim.gait", "config": cfg.to_dict()}}
    m.update(meta or {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = SessionWriter(path, m, overwrite=True)
    try:
        for _side, s in rec.sides.items():
            w.add_sensor(s.info)
        w.start()
        for side, s in rec.sides.items():
            n = s.n
            step = max(1, int(round(block_s * s.info.sample_rate_hz)))
            for i0 in range(0, n, step):
                i1 = min(n, i0 + step)
                blk = SampleBlock(side=side, first_index=int(s.sample_index[i0]), t_dev_s=s.t_dev_s[i0:i1],
                                  acc_counts=s.acc_counts[i0:i1], gyr_counts=s.gyr_counts[i0:i1],
                                  acc_scale_mps2=s.info.acc_scale_mps2, gyr_scale_dps=s.info.gyr_scale_dps)
                w.append_block(blk, s.t_true_s[i0:i1])
        w.close("simulation written")
    except BaseException:
        try:
            w.close("error while writing simulation")
        finally:
            raise
    return path


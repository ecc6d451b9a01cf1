"""Print what the simulator produces over a range of speeds (the table in docs/simulator.md).

    python -m imugait.sim.typical            # 120 s per condition, seed 1
    python -m imugait.sim.typical --quick    # 40 s per condition
"""

from __future__ import annotations

import sys
import time

import numpy as np

from imugait.conventions import GRAVITY_MPS2
from imugait.sim.gait import SimConfig, simulate

CONDITIONS = (("walk", 1.0), ("walk", 1.3), ("walk", 1.6), ("run", 2.5), ("run", 3.0), ("run", 4.0), ("run", 5.0))


def typical_rows(duration_s: float = 120.0, seed: int = 1) -> list[dict]:
    rows = []
    for gait, v in CONDITIONS:
        rec = simulate(SimConfig(gait=gait, duration_s=duration_s, seed=seed, speed_mps=v))
        st = rec.strides
        st = st[st["steady"]]
        rows.append(dict(
            gait=gait, speed_mps=v, cadence_spm=st["cadence_spm"].median(),
            stance_pct=100 - st["swing_pct"].median(), rom_deg=st["rom_deg"].median(),
            flex_peak_deg=st["flex_peak_deg"].median(), ext_peak_deg=st["ext_peak_deg"].median(),
            stride_cv_pct=100 * st["stride_s"].std() / st["stride_s"].mean(),
            ic_after_flex_pct=100 * ((st["next_ic_s"] - st["flex_peak_s"]) / st["stride_s"]).median(),
            to_minus_ext_ms=1000 * (st["to_s"] - st["ext_peak_s"]).median(),
            acc_max_g=max(np.linalg.norm(s.acc_mps2, axis=1).max() for s in rec.sides.values()) / GRAVITY_MPS2,
            gyr_max_dps=max(np.linalg.norm(s.gyr_dps, axis=1).max() for s in rec.sides.values()),
        ))
    return rows


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    dur = 40.0 if "--quick" in argv else 120.0
    print("| gait | speed m/s | cadence spm | stance % | thigh ROM ° | peak flex ° | peak ext ° | stride CV % "
          "| IC after peak flex (% stride) | TO − peak ext (ms) | max ‖acc‖ g | max ‖gyr‖ °/s |")
    print("|---" * 12 + "|")
    for r in typical_rows(dur):
        print(f"| {r['gait']} | {r['speed_mps']} | {r['cadence_spm']:.0f} | {r['stance_pct']:.1f} | {r['rom_deg']:.1f} "
              f"| {r['flex_peak_deg']:.1f} | {r['ext_peak_deg']:.1f} | {r['stride_cv_pct']:.1f} "
              f"| {r['ic_after_flex_pct']:.1f} | {r['to_minus_ext_ms']:.0f} | {r['acc_max_g']:.1f} | {r['gyr_max_dps']:.0f} |")
    t = time.perf_counter()
    for i in range(5):
        simulate(SimConfig(gait="run", duration_s=60, seed=i))
    print(f"\nsimulate(): 60 s, two sides, 200 Hz in {(time.perf_counter() - t) / 5:.3f} s (mean of 5)")


if __name__ == "__main__":
    main()

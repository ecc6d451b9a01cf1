"""Which :class:`~imugait.acquire.base.Source` the live view runs — no Qt here.

``imugait live --simulate``           two in-process virtual sensors (simulated run)
``imugait live --left A --right B``   BLE sensors (either side may be omitted)
``imugait live --replay FILE.h5``     a recorded session, at ``--speed`` × real time
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from imugait.acquire.ble import BleSource
from imugait.acquire.replay import ReplaySource
from imugait.errors import ImugaitError
from imugait.sim.gait import SimConfig
from imugait.sim.source import SimulatedSource


SIM_ASYM_ROM_DEG = 3.0
"""The simulated runner of ``imugait live --simulate`` has this much more thigh range on the
left (so the balance panel has something to show; ``--sim-asym 0`` for a symmetric one)."""


def default_sim_config(**kw):
    """A treadmill-like simulated run: 3 s standing (calibration), then running; 5 min in all
    (the whole run is simulated when the source starts: ≈ 1.5 s per simulated minute here)."""
    base: dict[str, Any] = dict(gait="run", duration_s=300.0, fs_hz=200.0, seed=1, stand_before_s=3.0, stand_after_s=0.0,
                asym_rom_deg=SIM_ASYM_ROM_DEG)
    base.update(kw)
    return SimConfig(**base)


def source_factory(*, simulate: bool = False, left: str | None = None, right: str | None = None,
                   replay: str | Path | None = None, speed: float = 1.0, source=None,
                   sim_config=None, sim_kwargs: dict | None = None) -> tuple[Callable, str]:
    """Return ``(factory, label)``; ``factory()`` builds the source inside the worker thread."""
    chosen = [bool(simulate), bool(left or right), replay is not None, source is not None]
    if sum(chosen) != 1:
        raise ImugaitError("choose exactly one source: --simulate, --left/--right ADDRESS, or --replay FILE.h5")
    if speed is not None and not speed > 0:  # None: as fast as possible
        raise ImugaitError(f"--speed must be > 0, got {speed}")
    if source is not None:
        return (lambda: source), type(source).__name__
    if simulate:
        cfg = sim_config or default_sim_config()

        def make_sim():
            return SimulatedSource(cfg, speed=speed, **(sim_kwargs or {}))

        gait = cfg.gait if isinstance(cfg, SimConfig) else ""
        return make_sim, f"simulated {gait}" + ("" if speed == 1 else f" at {speed:g}×" if speed else " (fast)")
    if replay is not None:
        path = Path(replay)
        if not path.exists():
            raise ImugaitError(f"{path}: no such session file — give the path of a .h5 written by imugait record")

        def make_replay():
            return ReplaySource(path, speed=speed)

        return make_replay, f"replay of {path.name} " + (f"at {speed:g}×" if speed else "(fast)")

    def make_ble():
        kw: dict[str, Any] = {}
        if left:
            kw["left"] = left
        if right:
            kw["right"] = right
        return BleSource(**kw)

    names = ", ".join(f"{s} {a}" for s, a in (("left", left), ("right", right)) if a)
    return make_ble, f"BLE ({names})"

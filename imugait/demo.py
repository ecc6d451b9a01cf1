"""``imugait demo`` — the project's front door, end to end on simulated sensors.

1. Two virtual thigh sensors (left, right) run a simulated treadmill run *before* and
   *after* "stretching" (the after-run has a larger hip range).
2. Their packets travel the real acquisition path: through the emulated BlueZ and
   unmodified bleak when a ``dbus-daemon`` is available (Linux), otherwise through
   in-process virtual sensors (and the demo says so). Packets are decoded, clock-mapped
   and written as HDF5 sessions under ``recordings/demo/``.
3. Each session is analysed (strides, hip range, swing timing, asymmetry) and a short
   summary printed; the before/after comparison report is written and its path printed.
4. With a display, the live dashboard opens on a replay of the after-run.
"""

from __future__ import annotations

from pathlib import Path

import click

DEMO_DIR_DEFAULT = Path("recordings") / "demo"


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DIR_DEFAULT,
              show_default=True, help="Folder for the demo sessions and report.")
@click.option("--duration", "duration_s", type=click.FloatRange(min=10.0), default=30.0, show_default=True,
              help="Seconds of running per session (plus standing still before and after).")
@click.option("--transport", type=click.Choice(["auto", "ble", "inprocess"]), default="auto", show_default=True,
              help="auto: emulated BlueZ + bleak when dbus-daemon exists, else in-process virtual sensors.")
@click.option("--window/--no-window", default=None,
              help="Open the live dashboard at the end (default: only when a display is available).")
@click.option("--seed", type=int, default=7, show_default=True)
def demo(out_dir: Path, duration_s: float, transport: str, window: bool | None, seed: int) -> None:
    """Simulated run before and after stretching, recorded, analysed and compared."""
    from imugait.demo_flow import run_demo

    run_demo(out_dir=out_dir, duration_s=duration_s, transport=transport, window=window, seed=seed)

"""`imugait demo` end to end (in-process virtual sensors; the BLE path of the same recorder
is covered by tests/integration/test_record_ble.py): two sessions, analysed, compared, report written."""

import json

import imugait
from imugait.cli import main


def test_demo_records_analyses_and_compares(tmp_path, capsys):
    out = tmp_path / "demo"
    try:
        main(["demo", "--transport", "inprocess", "--duration", "20", "--out", str(out), "--no-window"])
    except SystemExit as e:  # click may exit 0 explicitly
        assert e.code in (0, None)
    text = capsys.readouterr().out
    assert "in-process virtual sensors" in text
    for label in ("before", "after"):
        with imugait.open_session(out / f"{label}.h5") as s:
            assert s.sides == ("left", "right")
            assert s.meta["condition"] in ("pre-stretch", "post-stretch")
            assert s.derived_current
            assert (s.strides["valid"]).sum() >= 20
    report = out / "comparison" / "report.html"
    assert report.exists() and str(report.resolve()) in text
    comp = json.loads((out / "comparison" / "comparison.json").read_text())
    rom = {m["side"]: m for m in comp["metrics"] if m["metric"] == "rom_deg"}
    # the after-run swings through a 10 % larger range (~+5 deg): detected on both legs
    for side in ("left", "right"):
        assert rom[side]["ci_low"] > 0, rom[side]
        assert 2.0 < rom[side]["diff"] < 9.0

"""The worked Python example in docs/compare.md runs as written."""

import re

from repo_paths import REPO

DOC = REPO / "docs" / "compare.md"


def test_docs_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102 — our own documentation
    assert (tmp_path / "example" / "comparison" / "report.html").exists()
    cmp = ns["cmp"]
    hip_left = cmp.table[(cmp.table.metric == "rom_deg") & (cmp.table.side == "left")].iloc[0]
    assert hip_left.significant and 3.5 < hip_left["diff"] < 6.5
    assert set(ns["strides"]["condition"]) == {"pre", "post"}
    assert not [w for w in cmp.warnings if w["kind"] == "different_sensors"]  # one sensor pair

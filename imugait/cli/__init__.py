"""The ``imugait`` command line: every command in this package, one module per job.

* :mod:`~imugait.cli.main`        — the entry point (``imugait = imugait.cli:main``), the list
  of commands, the one place errors become a sentence and an exit code;
* :mod:`~imugait.cli.sessions`    — ``record``, ``import``, ``info``;
* :mod:`~imugait.cli.analyze`     — ``analyze``;
* :mod:`~imugait.cli.compare`     — ``compare``, ``reprocess``, ``report``, ``group``;
* :mod:`~imugait.cli.flexor_test` — ``flexor-test``;
* :mod:`~imugait.cli.sensors`     — ``scan``, ``check-sensor``;
* :mod:`~imugait.cli.simulate`    — ``simulate``;
* :mod:`~imugait.cli.live`        — ``live``;
* :mod:`~imugait.cli.options`     — the simulated runner's options shared by ``simulate`` and
  ``record --simulate``.

Commands sit on top of every other package (``tools/import_graph.py``). A command module
imports click and light helpers at the top and its work when it runs, so ``imugait --help``
loads neither h5py nor Qt (``tests/test_cli_basics.py``); that deferral is the CLI's, listed
by the import-graph tool, and hides no cycle because nothing imports the CLI.
"""

from __future__ import annotations

from imugait.cli.main import COMMANDS, cli, main

__all__ = ["COMMANDS", "cli", "main"]

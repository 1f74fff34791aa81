"""Every command starts by importing the CLI: what only some commands need is imported when used.

scipy.stats alone cost every command about a second of CPU on 2 cores (a quarter of a `--help`),
for a t distribution two policies need inside one function.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY_ON_DEMAND = ("scipy",)


def test_starting_the_cli_imports_no_scientific_stack_it_does_not_need() -> None:
    code = ("import sys, agent.cli; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_ON_DEMAND!r})))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"imported when the CLI starts: {loaded.strip()}"

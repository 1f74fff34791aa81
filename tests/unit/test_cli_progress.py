"""The cycle's progress lines from accounts running in parallel stay one whole line each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.commands.common import line_per_event


def test_parallel_progress_lines_never_run_into_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    say = line_per_event()
    accounts = [f"account-{n}" for n in range(8)]

    def report(account: str) -> None:
        for step in ("pulling from simulator", "evaluating policies", "executing approved actions"):
            for _ in range(50):
                say(f"{account}: {step}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(report, accounts))

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 * 3 * 50
    assert all(line.split(": ", 1)[0] in accounts and line.count(":") == 1 for line in lines)

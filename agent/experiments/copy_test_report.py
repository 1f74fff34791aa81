"""The copy-tests section of `report impact` and of the console's /impact page: how the launched
drafts fared against the ads they challenged, and how well the CTR predictor did on them.

Calibration counts the tests that ended on the stopping rule, with a verdict or without a winner at
the maximum duration (either way the launched draft served the whole test): the share of their observed CTRs inside the predicted interval (nominal 80%) and the bias,
observed minus predicted, per platform. A calibration needs real launches: with a handful, read the
coverage as a direction (each test moves it by 1/n).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from agent.copywriter.launch_feedback import Launch, launch_feedback
from agent.experiments.copy_test_store import copy_tests_since
from policies.copy_test import (
    CHALLENGER_WINS,
    CONTROL_WINS,
    JUDGED_OUTCOMES,
    NO_WINNER,
    LaunchedPrediction,
    calibration,
)

VERDICTS = (CHALLENGER_WINS, CONTROL_WINS)
JUDGED = JUDGED_OUTCOMES  # ended on the rule: the launched ad served the whole test
RECENT = 20  # tests listed one by one


def _launched(row: Mapping[Any, Any]) -> LaunchedPrediction | None:
    """The test's prediction and observation, when it ended on the rule with both."""
    figures = (row["predicted_ctr"], row["predicted_low"], row["predicted_high"], row["observed_ctr"])
    if row["outcome"] not in JUDGED or any(value is None for value in figures):
        return None
    return LaunchedPrediction(*(float(value) for value in figures))


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def calibration_by_platform(rows: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """Per platform: tests ended on the rule, coverage of the predicted interval, bias (observed -
    predicted CTR, and mean log ratio), and the log shift the launches now apply to new predictions."""
    launched: dict[str, list[LaunchedPrediction]] = defaultdict(list)
    levels: dict[str, Counter[float]] = defaultdict(Counter)
    fed_back: dict[str, list[Launch]] = defaultdict(list)
    for row in rows:
        found = _launched(row)
        if found is not None:
            launched[row["platform"]].append(found)
            levels[row["platform"]][float(row["interval_level"] or 0.8)] += 1
            fed_back[row["platform"]].append(Launch(found.predicted_ctr, found.observed_ctr,
                                                    float(row.get("feedback_log_shift") or 0.0)))
    out = []
    for platform in sorted(launched):
        result = calibration(launched[platform])
        feedback = launch_feedback(fed_back[platform])
        out.append({"platform": platform, "tests": result.launches,
                    "interval_level": levels[platform].most_common(1)[0][0],
                    "coverage": _rounded(result.coverage, 4), "bias": _rounded(result.bias),
                    "log_bias": _rounded(result.log_bias, 4),
                    "feedback_log_shift": None if feedback is None else _rounded(feedback.log_shift, 4)})
    return out


def _test_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    counts = row["counts"] or {}
    return {"id": row["id"], "account_id": row["account_id"], "platform": row["platform"],
            "ad_set_id": row["ad_set_id"], "challenger_ad_id": row["challenger_ad_id"],
            "incumbent_ad_id": row["incumbent_ad_id"], "status": row["status"], "outcome": row["outcome"],
            "started_on": row["started_on"].isoformat() if row["started_on"] else None,
            "days_running": counts.get("days_running"),
            "predicted_ctr": _rounded(row["predicted_ctr"]), "predicted_low": _rounded(row["predicted_low"]),
            "predicted_high": _rounded(row["predicted_high"]), "observed_ctr": _rounded(row["observed_ctr"]),
            "incumbent_ctr": _rounded(row["incumbent_ctr"]), "reason": row["reason"]}


def copy_test_section(connection: Connection, accounts: Collection[str], since: datetime | None = None) -> dict[str, Any]:
    """The section as JSON: counts by status, the challengers kept, calibration per platform, and
    the newest tests."""
    rows = copy_tests_since(connection, since, accounts)
    decided = [row for row in rows if row["outcome"] in VERDICTS]
    return {
        "tests_by_status": dict(sorted(Counter(row["status"] for row in rows).items())),
        "decided": len(decided),
        "no_winner": sum(1 for row in rows if row["outcome"] == NO_WINNER),
        "challenger_kept": sum(1 for row in decided if row["outcome"] == CHALLENGER_WINS),
        "calibration": calibration_by_platform(rows),
        "recent": [_test_json(row) for row in rows[-RECENT:][::-1]],
    }


def _percent(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def render_copy_tests_text(section: Mapping[str, Any]) -> str:
    """The section for `report impact --format text`."""
    lines = ["Copy tests (approved drafts launched against the ad they challenge)"]
    if not section["tests_by_status"]:
        return "\n".join([*lines, "  no copy test yet: no approved draft has been launched.", ""])
    status = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in section["tests_by_status"].items())
    lines.append(f"  {status}; {section['decided']} decided, the new copy kept in {section['challenger_kept']}"
                 + (f"; {section['no_winner']} without a clear winner (both ads kept)"
                    if section.get("no_winner") else ""))
    for platform in section["calibration"]:
        bias_points = platform["bias"] * 100 if platform["bias"] is not None else None
        lines.append(
            f"  calibration {platform['platform']:<10} {platform['tests']} test(s): "
            f"{_percent(platform['coverage'], 0)} of observed CTRs inside the predicted "
            f"{platform['interval_level']:.0%} interval; bias (observed - predicted) "
            + ("n/a" if bias_points is None else f"{bias_points:+.2f} CTR points")
            + ("" if platform["log_bias"] is None else f" ({platform['log_bias']:+.1%} in log)")
            + ("" if not platform.get("feedback_log_shift") else
               f"; new predictions moved by {platform['feedback_log_shift']:+.1%} in log for it"))
    for test in section["recent"][:5]:
        verdict = (test["outcome"] or test["status"]).replace("_", " ")
        lines.append(f"    test {test['id']} {test['account_id']}/{test['ad_set_id']}: {verdict}; predicted "
                     f"{_percent(test['predicted_ctr'])} ({_percent(test['predicted_low'])}-"
                     f"{_percent(test['predicted_high'])}), observed {_percent(test['observed_ctr'])} vs "
                     f"{_percent(test['incumbent_ctr'])} for the incumbent")
    return "\n".join(lines) + "\n"

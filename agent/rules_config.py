"""Loading user rules: the config's `rules:` section and the files of a `rules/` folder beside it.

Every rule is validated on its own, so a problem names the rule and the field
(`rule 'stop-loss' (rules/stop.yaml): when.all[1].window: ...`); any problem refuses the whole
configuration: a rule set is never half-loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from policies.rules.schema import AdSchedule, Rule

RULES_FOLDER = "rules"
_RULE = TypeAdapter(Rule)
_TAGS = frozenset({"compare", "all", "any", "not"})
_ACTION_KINDS = frozenset({"pause", "enable", "set_budget", "change_budget_pct", "notify", "add_label",
                           "ad_schedule"})


class RuleFileError(Exception):
    """A rules file cannot be read or is not a list of rules (`problems`: one line each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def read_rule_file(path: Path, source: str | None = None) -> list[tuple[str, Any]]:
    """(source, raw rule) for each rule of one rules file (`rules:` and a list); RuleFileError if unreadable."""
    source = source or str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RuleFileError([f"{source}: cannot be read as YAML: {str(error).splitlines()[0]}"]) from None
    items = document.get("rules") if isinstance(document, Mapping) else None
    if not isinstance(items, list) or (isinstance(document, Mapping) and set(document) - {"rules"}):
        raise RuleFileError([f"{source}: expected a mapping with one key, rules: (a list of rules)"])
    return [(f"{source} rules[{index}]", item) for index, item in enumerate(items)]


def read_rule_folder(folder: Path) -> list[tuple[str, Any]]:
    """(source, raw rule) for every rule of `folder/*.yaml` and `*.yml`, files in name order."""
    if not folder.is_dir():
        return []
    found: list[tuple[str, Any]] = []
    problems: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            found += read_rule_file(path, f"{folder.name}/{path.name}")
        except RuleFileError as error:
            problems += error.problems
    if problems:
        raise RuleFileError(problems)
    return found


def _location(loc: Sequence[int | str]) -> str:
    """A readable field path: the union tags pydantic adds (`compare`/`all`/`any`/`not` where a condition
    starts, an action's kind after `then[i]`) are left out."""
    parts: list[int | str] = []
    expect: str | None = None  # "condition" or "action": a tag may come next; "index": a list index may
    for part in loc:
        if expect == "condition" and part in _TAGS or expect == "action" and part in _ACTION_KINDS:
            expect = None
            continue
        if expect in ("index", "action_index") and isinstance(part, int):
            expect = "condition" if expect == "index" else "action"
            parts.append(part)
            continue
        parts.append(part)
        expect = {"when": "condition", "not": "condition", "all": "index", "any": "index",
                  "then": "action_index"}.get(str(part)) if isinstance(part, str) else None
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the rule)"


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    got = f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], (dict, list)) else ""
    if error["type"] == "extra_forbidden":
        return "unknown key (see docs/rules.md)"
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "window":
        return f"expected today, yesterday, month_to_date or last_N_days with N 1..90{got}"
    if error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "name":
        return f"expected lower-case letters, digits, - and _ (at most 59){got}"
    if error["type"] == "union_tag_invalid":
        tag = (error.get("ctx") or {}).get("tag")
        return (f"unknown action kind {tag!r}; the kinds are pause, enable, set_budget, change_budget_pct, notify, "
                "add_label, ad_schedule")
    if error["type"] in ("literal_error", "greater_than", "less_than", "greater_than_equal", "less_than_equal"):
        return f"{message}{got}"
    return message


def _scoped_to(rule: Rule, platform: str, account_platforms: Mapping[str, str]) -> str | None:
    """How the rule's scope names `platform` (by platform or by account), or None."""
    named = sorted(a for a in rule.scope.accounts if account_platforms.get(a) == platform)
    if named:
        return f"account(s) {', '.join(named)}"
    return f"scope.platforms {platform}" if platform in rule.scope.platforms else None


def _platform_refusal(rule: Rule, account_platforms: Mapping[str, str]) -> str | None:
    """Why an action cannot run where the rule's scope names: `add_label` or `ad_schedule` on LinkedIn
    (no labels, no schedules), `ad_schedule` dimming on Meta (its ad set schedules only switch delivery
    off). An unscoped rule is not refused: those entities are skipped, and the trace says why."""
    for index, action in enumerate(rule.then):
        if action.kind in ("add_label", "ad_schedule"):
            where = _scoped_to(rule, "linkedin", account_platforms)
            what = "labels" if action.kind == "add_label" else "ad schedules"
            if where:
                return f"then[{index}]: {action.kind}: LinkedIn has no {what}, and the rule is scoped to {where}"
        if isinstance(action, AdSchedule) and action.bid_modifier != 0:
            where = _scoped_to(rule, "meta", account_platforms)
            if where:
                return (f"then[{index}]: ad_schedule: Meta ad set schedules only switch delivery off (bid_modifier "
                        f"0), and the rule is scoped to {where}")
    return None


def parse_rules(config_rules: Any, files: Sequence[tuple[str, Any]] = (),
                account_ids: Sequence[str] | None = None,
                platforms: Sequence[str] | None = None,
                account_platforms: Mapping[str, str] | None = None) -> tuple[tuple[Rule, ...], list[str]]:
    """Validate the config's `rules:` and the folder's rules: (rules, problems). Problems name the rule
    (its name, else its place) and the field; names must be unique, scoped accounts configured and
    scoped platforms those of a configured account (when `account_ids` / `platforms` are given), and no
    action scoped to a platform that cannot take it (`account_platforms`: account id -> its platform, the
    simulated one for simulator accounts)."""
    sources: list[tuple[str, Any]] = []
    if config_rules is not None and not isinstance(config_rules, list):
        return (), ["rules: expected a list of rules"]
    sources += [(f"rules[{index}]", item) for index, item in enumerate(config_rules or [])]
    sources += list(files)
    rules: list[Rule] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for where, item in sources:
        name = item.get("name") if isinstance(item, Mapping) else None
        label = f"rule {name!r} ({where})" if isinstance(name, str) and name else where
        try:
            rule = _RULE.validate_python(item)
        except ValidationError as error:
            problems += [f"{label}: {_location(e['loc'])}: {_message(e)}" for e in error.errors()]
            continue
        if rule.name in seen:
            problems.append(f"{label}: name: {rule.name!r} is already the name of the rule at {seen[rule.name]}")
            continue
        seen[rule.name] = where
        unknown = sorted(set(rule.scope.accounts) - set(account_ids)) if account_ids is not None else []
        if unknown:
            problems.append(f"{label}: scope.accounts: not configured: {', '.join(unknown)}")
            continue
        strange = sorted(set(rule.scope.platforms) - set(platforms)) if platforms is not None else []
        if strange:
            problems.append(f"{label}: scope.platforms: no configured account is on {', '.join(strange)} "
                            f"(the platforms: {', '.join(sorted(set(platforms or ())))})")
            continue
        refused = _platform_refusal(rule, account_platforms or {})
        if refused:
            problems.append(f"{label}: {refused}")
            continue
        rules.append(rule)
    return (tuple(rules) if not problems else ()), problems

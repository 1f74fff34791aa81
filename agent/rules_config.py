"""Loading user rules: the config's `rules:` section and the files of a `rules/` folder beside it.

Every rule is validated on its own, so a problem names the rule and the field
(`rule 'stop-loss' (rules/stop.yaml): when.all[1].window: ...`); any problem refuses the whole
configuration: a rule set is never half-loaded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from policies.rules.schema import Rule

RULES_FOLDER = "rules"
_RULE = TypeAdapter(Rule)
_TAGS = frozenset({"compare", "all", "any", "not"})
_ACTION_KINDS = frozenset({"pause", "enable", "set_budget", "change_budget_pct", "notify", "add_label"})


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
                "add_label")
    if error["type"] in ("literal_error", "greater_than", "less_than", "greater_than_equal", "less_than_equal"):
        return f"{message}{got}"
    return message


def _labels_on_linkedin(rule: Rule, linkedin_accounts: Collection[str]) -> str | None:
    """Why a rule's `add_label` cannot run: its scope names LinkedIn (by platform or account), which has
    no labels. An unscoped rule is not refused; it skips LinkedIn's entities (they report no labels)."""
    index = next((i for i, action in enumerate(rule.then) if action.kind == "add_label"), None)
    if index is None:
        return None
    named = sorted(set(rule.scope.accounts) & set(linkedin_accounts))
    if "linkedin" in rule.scope.platforms or named:
        where = f"account(s) {', '.join(named)}" if named else "scope.platforms linkedin"
        return f"then[{index}]: add_label: LinkedIn has no labels, and the rule is scoped to {where}"
    return None


def parse_rules(config_rules: Any, files: Sequence[tuple[str, Any]] = (),
                account_ids: Sequence[str] | None = None,
                platforms: Sequence[str] | None = None,
                linkedin_accounts: Collection[str] = ()) -> tuple[tuple[Rule, ...], list[str]]:
    """Validate the config's `rules:` and the folder's rules: (rules, problems). Problems name the rule
    (its name, else its place) and the field; names must be unique, scoped accounts configured and
    scoped platforms those of a configured account (when `account_ids` / `platforms` are given), and no
    `add_label` scoped to LinkedIn (`linkedin_accounts`: the accounts on LinkedIn, simulated or not)."""
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
        refused = _labels_on_linkedin(rule, linkedin_accounts)
        if refused:
            problems.append(f"{label}: {refused}")
            continue
        rules.append(rule)
    return (tuple(rules) if not problems else ()), problems

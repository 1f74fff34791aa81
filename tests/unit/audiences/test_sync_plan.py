"""The audience sync plan: exactly the difference, consent and forgetting respected."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agent.audiences.plan import desired_members, plan_sync


def key(name: str, kind: str = "email") -> tuple[str, str]:
    return kind, hashlib.sha256(name.encode()).hexdigest()


@dataclass(frozen=True)
class Member:
    kind: str
    sha256: str
    consent: bool


def test_the_plan_adds_and_removes_exactly_what_differs() -> None:
    held = {key("a"): "present", key("b"): "present", key("c"): "present"}
    plan = plan_sync({key("b"), key("c"), key("d")}, held, {"email"})
    assert plan.adds == (key("d"),)
    assert plan.removes == (key("a"),)
    assert not plan_sync({key("a")}, {key("a"): "present"}, {"email"})


def test_members_in_flight_count_as_their_batch_intends() -> None:
    # being added: held (the batch is re-sent first); being removed: not held
    plan = plan_sync({key("a"), key("b")}, {key("a"): "adding", key("b"): "removing", key("c"): "adding"}, {"email"})
    assert plan.adds == (key("b"),)
    assert plan.removes == (key("c"),)


def test_without_consent_never_wanted_and_the_forgotten_are_removed() -> None:
    members = [Member(*key("yes"), consent=True), Member(*key("no"), consent=False),
               Member(*key("gone"), consent=True)]
    desired = desired_members(members, forgotten={key("gone")})
    assert desired == {key("yes")}
    plan = plan_sync(desired, {key("no"): "present", key("gone"): "present"}, {"email"})
    assert plan.adds == (key("yes"),)
    assert set(plan.removes) == {key("no"), key("gone")}


def test_only_identifier_kinds_the_platform_matches_are_planned() -> None:
    plan = plan_sync({key("a"), key("+15550100", "phone")}, {}, {"email"})
    assert plan.adds == (key("a"),)


def test_the_digest_names_the_plan_not_the_people() -> None:
    first = plan_sync({key("a")}, {}, {"email"})
    assert first.digest == plan_sync({key("a")}, {}, {"email"}).digest
    assert first.digest != plan_sync({key("b")}, {}, {"email"}).digest
    assert key("a")[1] not in first.digest

"""The simulated world: structure from a seed, money in the account currency, exact audiences."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.simulator.audiences import PeopleSet, union_of
from connectors.simulator.creative import MULTIPLIER_RANGE, ctr_multiplier
from connectors.simulator.world import DEMO_SPECS, SimAccountSpec, World, build_world, union_reach

START = date(2025, 3, 3)


def _fingerprint(world: World) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for account in world.accounts:
        rows.append((account.account_id, account.vertical.key, account.monthly_budget))
        rows.extend((a.audience_id, a.name, a.people) for a in account.audiences)
        for campaign in account.campaigns:
            rows.append((campaign.campaign_id, campaign.name, campaign.daily_budget))
            for ad_set in campaign.ad_sets:
                rows.append((ad_set.ad_set_id, ad_set.name, ad_set.daily_budget, ad_set.latent, ad_set.audience_ids,
                             ad_set.keywords, ad_set.search_terms))
                rows.extend((ad.ad_id, ad.creative, ad.ctr_multiplier) for ad in ad_set.ads)
    return rows


def test_the_same_seed_builds_the_same_world_and_another_seed_does_not() -> None:
    first = _fingerprint(build_world(11, DEMO_SPECS, START))
    assert first == _fingerprint(build_world(11, DEMO_SPECS, START))
    assert first != _fingerprint(build_world(12, DEMO_SPECS, START))


def test_adding_an_account_leaves_the_other_accounts_unchanged() -> None:
    extra = SimAccountSpec("sim-extra", "meta", "Extra", "USD", "UTC")
    alone = build_world(11, DEMO_SPECS[:1], START)
    together = build_world(11, (DEMO_SPECS[0], extra), START)
    assert _fingerprint(alone) == _fingerprint(together)[: len(_fingerprint(alone))]


def test_ids_are_readable_and_derived_from_the_account() -> None:
    spec = SimAccountSpec("acme", "google_ads", "Acme", "USD", "UTC", campaigns=2, ad_sets_per_campaign=2)
    world = build_world(1, [spec], START)
    assert list(world.campaigns_by_id) == ["acme-c1", "acme-c2"]
    assert "acme-c1-s2" in world.ad_sets_by_id
    assert "acme-c2-s1-a3" in world.ads_by_id
    assert [k.keyword_id for k in world.ad_sets_by_id["acme-c1-s2"].keywords][0] == "acme-c1-s2-k1"


def test_budgets_sit_where_each_platform_keeps_them() -> None:
    world = build_world(3, DEMO_SPECS, START)
    for account in world.accounts:
        for campaign in account.campaigns:
            if account.platform == "google_ads":
                assert campaign.daily_budget is not None and campaign.daily_budget > 0
                assert all(s.daily_budget is None for s in campaign.ad_sets)
            else:
                assert campaign.daily_budget is None
                assert all(s.daily_budget is not None and s.daily_budget > 0 for s in campaign.ad_sets)


@pytest.mark.parametrize(("currency", "exponent"), [("USD", -2), ("EUR", -2), ("GBP", -2), ("JPY", 0), ("KRW", 0)])
def test_budgets_are_decimals_with_the_currency_minor_unit(currency: str, exponent: int) -> None:
    specs = [SimAccountSpec(f"a-{p}", p, p, currency, "UTC") for p in ("google_ads", "meta", "linkedin")]
    world = build_world(5, specs, START)
    amounts = [a.monthly_budget for a in world.accounts]
    amounts += [c.daily_budget for c in world.campaigns_by_id.values() if c.daily_budget is not None]
    amounts += [s.daily_budget for s in world.ad_sets_by_id.values() if s.daily_budget is not None]
    for amount in amounts:
        assert isinstance(amount, Decimal)
        assert amount.as_tuple().exponent == exponent
    if currency == "JPY":
        assert min(amounts) >= 1000  # sized for yen, not dollars


def test_every_account_has_losers_and_budget_limited_winners_among_typical_ad_sets() -> None:
    world = build_world(8, DEMO_SPECS, START)
    for account in world.accounts:
        latents = [s.latent for c in account.campaigns for s in c.ad_sets]
        kinds = [latent.archetype for latent in latents]
        assert kinds.count("loser") >= 1 and kinds.count("headroom_winner") >= 1
        assert kinds.count("typical") > len(kinds) / 2
        for latent in latents:
            low, high = {"loser": (0.3, 0.8), "typical": (1.5, 4.0), "headroom_winner": (3.5, 6.0)}[latent.archetype]
            assert low <= latent.target_roas <= high
            if latent.archetype == "headroom_winner":
                assert latent.demand_cap >= 2.5 * latent.reference_spend


def test_google_ad_groups_have_match_types_and_irrelevant_terms_that_never_convert() -> None:
    world = build_world(4, DEMO_SPECS, START)
    ad_group = world.ad_sets_by_id["sim-google-us-c1-s1"]
    assert {k.match_type for k in ad_group.keywords} == {"EXACT", "PHRASE", "BROAD"}
    irrelevant = [t for t in ad_group.search_terms if not t.relevant]
    assert irrelevant and all(t.cvr_factor == 0 for t in irrelevant)
    assert all(t.cvr_factor > 0 for t in ad_group.search_terms if t.relevant)
    assert {t.keyword_id for t in ad_group.search_terms} <= {k.keyword_id for k in ad_group.keywords}


def test_union_reach_is_exact_and_consistent_with_sizes_and_overlaps() -> None:
    world = build_world(6, DEMO_SPECS, START)
    account = world.account("sim-meta-de")
    first, second, third = account.audiences[:3]
    assert union_reach(world, account.account_id, [first.audience_id]) == first.size
    pair = union_reach(world, account.account_id, [first.audience_id, second.audience_id])
    assert pair == first.size + second.size - first.people.intersection(second.people).size
    everything = union_reach(world, account.account_id, [a.audience_id for a in account.audiences])
    assert pair <= union_reach(world, account.account_id, [first.audience_id, second.audience_id, third.audience_id])
    assert everything == union_of(a.people for a in account.audiences).size
    assert union_reach(world, account.account_id, []) == 0
    with pytest.raises(ValueError, match="unknown audience"):
        union_reach(world, account.account_id, ["nope"])


def test_people_set_algebra() -> None:
    a = PeopleSet.of([(0, 10), (20, 30)])
    b = PeopleSet.of([(5, 25)])
    assert a.union(b) == PeopleSet.of([(0, 30)])
    assert a.intersection(b) == PeopleSet.of([(5, 10), (20, 25)])
    assert a.difference(b) == PeopleSet.of([(0, 5), (25, 30)])
    assert a.difference(b).size + a.intersection(b).size == a.size


def test_generated_ads_carry_the_hidden_score_of_their_text() -> None:
    world = build_world(9, DEMO_SPECS, START)
    for ad_set in world.ad_sets_by_id.values():
        platform = world.account(ad_set.account_id).platform
        for ad in ad_set.ads:
            expected = ctr_multiplier(platform, ad.creative.headlines, ad.creative.descriptions, ad_set.theme)
            assert ad.ctr_multiplier == expected
            assert MULTIPLIER_RANGE[0] <= ad.ctr_multiplier <= MULTIPLIER_RANGE[1]
            if platform == "google_ads":
                assert all(len(h) <= 30 for h in ad.creative.headlines)
                assert all(len(d) <= 90 for d in ad.creative.descriptions)


def test_unknown_platform_and_duplicate_ids_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="unknown simulated platform 'tiktok'"):
        build_world(1, [SimAccountSpec("x", "tiktok", "X", "USD", "UTC")], START)
    with pytest.raises(ValueError, match="duplicate"):
        build_world(1, [DEMO_SPECS[0], DEMO_SPECS[0]], START)

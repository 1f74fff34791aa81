"""Segment discovery from CRM outcomes: customers grouped by recency, frequency and value of their
won deals (RFM), and by a small k-means clustering on what the outcomes record about them.

Pure: plain records in (one per CRM stage, with a hashed identifier for the person), suggestions out.
A customer is a person with at least one `won` stage; their value is the sum of the won amounts.

RFM: recency = days since the last win, in thirds of the customers (3 = most recent); frequency
= one win or several; monetary value in thirds (3 = highest). Five groups cover everyone:
champions (several wins, top value, not lapsed), loyal (several wins, not lapsed), new (one recent
win), at risk (lapsed, with several wins or top value), one-time (one win, neither recent nor top).

Clustering: per customer log value, number of wins, days since the last win, days from their first
recorded stage to their first win, and the channel they came through (click ids, else utm_source),
standardised; k-means for k = 3..5 from deterministic farthest-point starts, keeping the k with the
best silhouette (on at most 1,000 customers). Each cluster is named by its channel and value level.

Every group comes with its size and value, and the mean value per customer with a 90% interval
(normal approximation, mean +- 1.645 sd / sqrt(n)). Groups under `min_share` of customers are
left out (and counted), so the suggestions stay few and each is large enough to act on.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np

Treatment = Literal["exclude", "bid down", "own budget", "own copy"]
Z90 = 1.6449


@dataclass(frozen=True)
class StageRecord:
    """One CRM stage of one person; `person` is a hashed identifier (never an email)."""

    person: str
    stage: str
    day: date
    amount: float | None
    channel: str  # google_ads, meta, linkedin, a utm_source, or "unknown"


@dataclass(frozen=True)
class Customer:
    person: str
    wins: int
    value: float
    last_win: date
    first_seen: date
    first_win: date
    channel: str

    def recency(self, today: date) -> int:
        return (today - self.last_win).days

    @property
    def days_to_win(self) -> int:
        return (self.first_win - self.first_seen).days


@dataclass(frozen=True)
class CustomerSuggestion:
    """A group of customers, its size and value, and the treatment it would get."""

    method: Literal["rfm", "cluster"]
    name: str
    description: str
    customers: int
    share: float  # of all customers
    value: float
    value_share: float
    mean_value: float
    mean_low: float  # 90% interval of the mean value per customer
    mean_high: float
    treatment: Treatment
    why: str
    rule: dict[str, Any]  # what makes a member (for a person to write into the CRM segments)

    def as_json(self, currency: str | None) -> dict[str, Any]:
        return {"method": self.method, "name": self.name, "description": self.description,
                "customers": self.customers, "share": round(self.share, 4), "currency": currency,
                "value": round(self.value, 2), "value_share": round(self.value_share, 4),
                "mean_value": round(self.mean_value, 2), "mean_low": round(self.mean_low, 2),
                "mean_high": round(self.mean_high, 2), "treatment": self.treatment, "why": self.why,
                "rule": self.rule}


def customers_from(records: Iterable[StageRecord]) -> list[Customer]:
    """One customer per person with a won stage, sorted by person."""
    by_person: dict[str, list[StageRecord]] = defaultdict(list)
    for record in records:
        by_person[record.person].append(record)
    found = []
    for person, stages in sorted(by_person.items()):
        wins = sorted((s for s in stages if s.stage == "won"), key=lambda s: s.day)
        if not wins:
            continue
        channels = Counter(s.channel for s in stages if s.channel != "unknown")
        channel = sorted(channels.items(), key=lambda item: (-item[1], item[0]))[0][0] if channels else "unknown"
        found.append(Customer(person, len(wins), sum(s.amount or 0.0 for s in wins), wins[-1].day,
                              min(s.day for s in stages), wins[0].day, channel))
    return found


def _thirds(values: Sequence[float]) -> Callable[[float], int]:
    """1, 2 or 3 by the tercile a value falls in (3 = highest)."""
    ordered = sorted(values)
    low, high = ordered[len(ordered) // 3], ordered[(2 * len(ordered)) // 3]
    return lambda v: 1 if v < low else (2 if v < high else 3)


def _mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = Z90 * sd / math.sqrt(len(values))
    return mean, max(mean - half, 0.0), mean + half


def _suggestion(method: Literal["rfm", "cluster"], name: str, description: str, members: Sequence[Customer],
                everyone: Sequence[Customer], treatment: Treatment, why: str,
                rule: dict[str, Any]) -> CustomerSuggestion:
    value = sum(c.value for c in members)
    total = sum(c.value for c in everyone) or 1.0
    mean, low, high = _mean_interval([c.value for c in members])
    return CustomerSuggestion(method, name, description, len(members), len(members) / len(everyone), value,
                              value / total, mean, low, high, treatment, why, rule)


RFM_GROUPS: tuple[tuple[str, str, Treatment, str], ...] = (
    ("champions", "Repeat customers of top value who bought recently", "own budget",
     "the most valuable customers: keep them (retention, upsell) and seed lookalike audiences with them"),
    ("loyal", "Repeat customers who bought recently", "own copy",
     "they know the brand: copy about what is new, not an introduction"),
    ("new customers", "Customers whose first and only purchase is recent", "own copy",
     "a second purchase is the next step: onboarding and cross-sell copy"),
    ("at risk", "Valuable or repeat customers who have not bought for a while", "own budget",
     "win them back before they lapse for good: a retargeting budget of their own"),
    ("one-time buyers", "Customers who bought once, not recently, at ordinary value", "bid down",
     "they seldom come back: spend less on reaching them again"),
)


def rfm_segments(customers: Sequence[Customer], today: date, min_share: float = 0.05,
                 min_customers: int = 30) -> tuple[list[CustomerSuggestion], int]:
    """The RFM groups with at least `min_share` of customers, and how many customers were left out."""
    if len(customers) < min_customers:
        return [], len(customers)
    recent = _thirds([-c.recency(today) for c in customers])  # 3 = most recent
    valued = _thirds([c.value for c in customers])
    recency_days = sorted(c.recency(today) for c in customers)
    lapsed_after = recency_days[(2 * len(recency_days)) // 3]
    recent_within = recency_days[len(recency_days) // 3]
    top_value = sorted(c.value for c in customers)[(2 * len(customers)) // 3]
    groups: dict[str, list[Customer]] = defaultdict(list)
    for customer in customers:
        r, m, repeat = recent(-customer.recency(today)), valued(customer.value), customer.wins >= 2
        if r == 1 and (repeat or m == 3):
            groups["at risk"].append(customer)
        elif repeat and m == 3:
            groups["champions"].append(customer)
        elif repeat:
            groups["loyal"].append(customer)
        elif r == 3:
            groups["new customers"].append(customer)
        else:
            groups["one-time buyers"].append(customer)
    rules: dict[str, dict[str, Any]] = {
        "champions": {"wins": ">= 2", "value": f">= {top_value:.2f}", "days_since_last_win": f"< {lapsed_after}"},
        "loyal": {"wins": ">= 2", "value": f"< {top_value:.2f}", "days_since_last_win": f"< {lapsed_after}"},
        "new customers": {"wins": "== 1", "days_since_last_win": f"<= {recent_within}"},
        "at risk": {"days_since_last_win": f">= {lapsed_after}", "any_of": {"wins": ">= 2", "value": f">= {top_value:.2f}"}},
        "one-time buyers": {"wins": "== 1", "days_since_last_win": f"> {recent_within}", "value": f"< {top_value:.2f}"},
    }
    found, left_out = [], 0
    for name, description, treatment, why in RFM_GROUPS:
        members = groups.get(name, [])
        if len(members) < max(min_share * len(customers), 1):
            left_out += len(members)
            continue
        found.append(_suggestion("rfm", name, description, members, customers, treatment, why, rules[name]))
    return found, left_out


def _features(customers: Sequence[Customer], today: date) -> tuple[np.ndarray, list[str]]:
    channels = sorted({c.channel for c in customers})
    rows = [[math.log1p(c.value), float(c.wins), float(c.recency(today)), float(c.days_to_win),
             *[1.0 if c.channel == ch else 0.0 for ch in channels]] for c in customers]
    data = np.array(rows, dtype=float)
    spread = data.std(axis=0)
    spread[spread == 0] = 1.0
    return (data - data.mean(axis=0)) / spread, channels


def _kmeans(data: np.ndarray, k: int, rounds: int = 50) -> np.ndarray:
    """Labels from Lloyd's algorithm, started from deterministic farthest points (the first point
    nearest the centre of mass, then each next the farthest from those chosen)."""
    first = int(np.argmin(((data - data.mean(axis=0)) ** 2).sum(axis=1)))
    centres = [data[first]]
    for _ in range(1, k):
        distance = np.min([((data - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(data[int(np.argmax(distance))])
    centre = np.array(centres)
    labels = np.zeros(len(data), dtype=int)
    for round_number in range(rounds):
        labels_new = np.argmin(((data[:, None, :] - centre[None, :, :]) ** 2).sum(axis=2), axis=1)
        if round_number and np.array_equal(labels_new, labels):
            break
        labels = labels_new
        centre = np.array([data[labels == j].mean(axis=0) if np.any(labels == j) else centre[j] for j in range(k)])
    return labels


def _silhouette(data: np.ndarray, labels: np.ndarray) -> float:
    squares = (data * data).sum(axis=1)  # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one n x n matrix, no n x n x f
    distances = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * data @ data.T, 0.0))
    scores = []
    for i in range(len(data)):
        own = labels == labels[i]
        if own.sum() <= 1:
            scores.append(0.0)
            continue
        inside = distances[i, own].sum() / (own.sum() - 1)
        outside = min((distances[i, labels == j].mean() for j in set(labels.tolist()) - {int(labels[i])}),
                      default=0.0)
        scores.append((outside - inside) / max(inside, outside) if max(inside, outside) > 0 else 0.0)
    return float(np.mean(scores))


def cluster_segments(customers: Sequence[Customer], today: date, min_share: float = 0.05,
                     min_customers: int = 30, sample: int = 1000) -> tuple[list[CustomerSuggestion], int]:
    """Clusters of customers on their CRM fields, with at least `min_share` of customers each."""
    if len(customers) < min_customers:
        return [], len(customers)
    data, _channels = _features(customers, today)
    step = max(1, math.ceil(len(customers) / sample))
    best: tuple[float, int, np.ndarray] | None = None
    for k in (3, 4, 5):
        if k >= len(customers):
            break
        labels = _kmeans(data, k)
        score = _silhouette(data[::step], labels[::step])
        if best is None or score > best[0] + 1e-9:
            best = (score, k, labels)
    if best is None:
        return [], len(customers)
    labels = best[2]
    overall = sum(c.value for c in customers) / len(customers)
    groups = [[c for c, label in zip(customers, labels, strict=True) if label == j] for j in range(best[1])]
    groups = [g for g in groups if g]
    means = [sum(c.value for c in g) / len(g) for g in groups]
    median_recency = sorted(c.recency(today) for c in customers)[len(customers) // 2]
    found, left_out, names = [], 0, Counter[str]()
    for members, mean in sorted(zip(groups, means, strict=True), key=lambda pair: -pair[1]):
        if len(members) < max(min_share * len(customers), 1):
            left_out += len(members)
            continue
        channel = Counter(c.channel for c in members).most_common(1)[0][0]
        level = "high" if mean > 1.25 * overall else ("low" if mean < 0.8 * overall else "middle")
        repeat = sum(c.wins for c in members) / len(members)
        cycle = sorted(c.days_to_win for c in members)[len(members) // 2]
        recency = sorted(c.recency(today) for c in members)[len(members) // 2]
        name = (f"{channel}, {level} value, {'repeat' if repeat >= 1.5 else 'single'} buyers, "
                f"{'recent' if recency < median_recency else 'lapsed'}")
        names[name] += 1
        name += f" ({names[name]})" if names[name] > 1 else ""
        description = (f"Customers mostly from {channel}: mean value {mean:.0f} against {overall:.0f} overall, "
                       f"{repeat:.1f} wins each, last win {recency} days ago and {cycle} days from first contact "
                       "to first win (medians)")
        if mean == max(means):
            treatment: Treatment = "own budget"
            why = "the highest value per customer: reach more people like them"
        elif mean == min(means):
            treatment, why = "bid down", "the lowest value per customer"
        else:
            treatment, why = "own copy", "a distinct group of customers: speak to what they came for"
        found.append(_suggestion("cluster", name, description, members, customers, treatment, why,
                                 {"channel": channel, "value_level": level, "k": best[1],
                                  "silhouette": round(best[0], 3)}))
    return found, left_out

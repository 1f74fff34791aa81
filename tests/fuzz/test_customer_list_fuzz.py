"""Any file handed to `segments import` is read or refused as a whole: never a crash, every row accounted
for, and no rejection reason repeating an email or a phone."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import example, given
from hypothesis import strategies as st

from agent.customers.customer_list import BadHeader, plan_columns
from agent.customers.importing import parse_customers
from agent.outcomes.reader import UnreadableFile, read_rows
from tests.fuzz.settings import bounded

HEADER = "id,email,phone,amount,currency,last_purchase,customer_since,marketing_consent,plan\n"
PERSONAL = ["ann@example.com", "Ann.Lee@Example.COM", "+49 170 1234567", "0049170123", "x@y", "@", "a@@b"]
cells = st.one_of(st.text(max_size=30), st.sampled_from(
    [*PERSONAL, "2026-11-02", "1700000000000", "9999-99-99", "1e999", "-5", "NaN", "USD", "yes", "maybe", '"',
     "\r", "\x00", "USD 1,000.00", "enterprise"]))
lines = st.lists(st.lists(cells, min_size=1, max_size=10).map(",".join), max_size=8)


@bounded
@given(body=st.one_of(lines.map(lambda rows: HEADER + "\n".join(rows)), st.binary(max_size=300).map(
    lambda raw: raw.decode("utf-8", "replace"))))
@example(body=HEADER + "C1,ann@example.com@,,,,,,,")
def test_a_customer_list_is_read_or_refused_never_a_crash(body: str) -> None:
    with TemporaryDirectory() as directory:
        path = Path(directory) / "customers.csv"
        path.write_text(body, encoding="utf-8", errors="surrogatepass")
        try:
            header, rows = read_rows(path, "csv")
            plan = plan_columns(header, {"plan"})
        except (UnreadableFile, BadHeader):
            return
    records, rejected = parse_customers(rows, plan)
    assert len(records) + len(rejected) == len(rows)
    assert len({r.line for r in rejected}) == len(rejected)
    for rejection in rejected:
        assert rejection.reason and "\n" not in rejection.reason
        assert not any(value.lower() in rejection.reason.lower() for value in PERSONAL if len(value) > 3)
    assert all(record.customer_id and (record.email_sha256 or record.phone_sha256) for record in records)

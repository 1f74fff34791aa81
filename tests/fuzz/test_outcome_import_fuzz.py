"""Any file handed to `outcomes import` is read or refused as a whole: never a crash, every row accounted for."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agent.outcomes.importing import parse_rows
from agent.outcomes.mappings import MappingError, load_mapping
from agent.outcomes.reader import UnreadableFile, read_rows
from tests.fuzz.settings import bounded

HEADER = "crm_id,stage,stage_at,amount,currency,gclid,fbc,utm_source,email,phone\n"
cells = st.one_of(st.text(max_size=30), st.sampled_from(
    ["lead", "SQL", "won", "2026-11-02", "2026-11-02T10:00:00+02:00", "1700000000000", "9999-99-99", "1e999",
     "-5", "NaN", "USD", "usd", "fb.1.2.x", "a@b.c", "+1 415", '"', '""', "\r", "\x00", "USD 1,000.00"]))
lines = st.lists(st.lists(cells, min_size=1, max_size=11).map(",".join), max_size=8)


@pytest.mark.parametrize("mapping_name", ["plain", "hubspot", "salesforce"])
@bounded
@given(body=st.one_of(lines.map(lambda rows: HEADER + "\n".join(rows)), st.binary(max_size=300).map(
    lambda raw: raw.decode("utf-8", "replace"))))
@example(body=HEADER + 'A,lead,2026-11-02,,,,,,,"unterminated')
def test_a_file_is_read_or_refused_never_a_crash(mapping_name: str, body: str) -> None:
    mapping = load_mapping(mapping_name)
    with TemporaryDirectory() as directory:
        path = Path(directory) / "crm.csv"
        path.write_text(body, encoding="utf-8", errors="surrogatepass")
        try:
            header, rows = read_rows(path, "csv")
            mapping.check_header(header)
        except (UnreadableFile, MappingError):
            return
    records, rejected = parse_rows(rows, mapping)
    rejected_lines = {r.line for r in rejected}
    assert len(rejected_lines) == len(rejected) <= len(rows)
    assert all(r.reason and "\n" not in r.reason.replace("\\n", "") for r in rejected)
    assert all(record.crm_id and record.stage for record in records)

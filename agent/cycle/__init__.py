"""One cycle: pull every account, evaluate, gate and execute, account by account.

`run` (run_cycle), `account_turn` (one account's turn), `account_pull` (what is read from the
platform), `run_context` (the frozen state a cycle shares), `summary`, `optional_reads`,
`concurrency` (per-platform request limits). Knows nothing of the runtime that schedules it.
"""

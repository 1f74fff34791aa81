"""Storage: the only modules that build SQL.

What was pulled (`store`), the actions' state machine (`action_states`) and read-only questions
about actions (`action_queries`), the audit trail, cycle records, flags (the kill switch), claims
and account locks, and the database engine, schema and retry helpers. Imports nothing from the
decision core, execution, the cycle or the runtime.
"""

"""User-defined rules: schema (schema.py), observed measures (measures.py), the evidence clause
(evidence.py), pure evaluation (evaluate.py) and templates (templates.py)."""

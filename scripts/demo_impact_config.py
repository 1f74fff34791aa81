"""Write the `make demo-impact` config: the example config on its own SQLite file, the four eligible
kinds on auto, and holdouts large and short enough to show an estimate after twelve simulated days.

    python scripts/demo_impact_config.py config.example.yaml demo/impact
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ELIGIBLE = ("pause", "set_budget", "exclude_audience", "add_negative_keywords")


def main() -> None:
    source, directory = Path(sys.argv[1]), Path(sys.argv[2])
    config = yaml.safe_load(source.read_text())
    config["database_url"] = f"sqlite:///{(directory / 'paid_media_agent.db').resolve()}"
    config["defaults"]["permissions"].update({kind: "auto" for kind in ELIGIBLE})
    for account in config["accounts"]:
        account.pop("permissions", None)
    # a demo needs both arms filled within days: half held out, a one-week horizon, two days of lag
    config["experiments"] = {"holdout_share": {kind: 0.5 for kind in ELIGIBLE}, "horizon_days": 7,
                             "conversion_lag_days": 2}
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


if __name__ == "__main__":
    main()

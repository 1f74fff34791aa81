"""Policy settings: defaults, strictness, and the commented example configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from policies import POLICY_NAMES
from policies.settings import AnomalySettings, NegativeKeywordsSettings, PolicySettings

ROOT = Path(__file__).resolve().parents[3]


def test_every_policy_has_a_settings_model_with_enabled() -> None:
    defaults = PolicySettings()
    for name in POLICY_NAMES:
        assert getattr(defaults, name).enabled is True


def test_unknown_keys_and_bad_values_are_errors() -> None:
    with pytest.raises(ValidationError):
        PolicySettings.model_validate({"underperformers": {"confidense": 0.9}})
    with pytest.raises(ValidationError):
        AnomalySettings(warning_z=8, critical_z=4)
    with pytest.raises(ValidationError, match="not a valid regex"):
        NegativeKeywordsSettings(irrelevant_patterns=["(unclosed"])


def test_the_example_configuration_documents_valid_policy_settings() -> None:
    config = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    settings = PolicySettings.model_validate(config["defaults"]["policies"])
    assert settings == PolicySettings()  # the example spells out the defaults

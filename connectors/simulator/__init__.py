"""Built-in simulated ad platform: a seeded, deterministic world that imitates Google Ads, Meta and LinkedIn."""

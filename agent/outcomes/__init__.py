"""Business outcomes: CRM stages imported (file or webhook), attributed to ad sets, reported as CPQL and pipeline."""

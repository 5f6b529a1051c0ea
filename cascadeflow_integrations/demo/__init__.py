"""The offline demo (`make demo`, `python -m cascadeflow_integrations.demo`)."""

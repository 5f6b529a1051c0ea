"""The models a cascade runs: members (`members`), their configuration (`config`) and prices (`prices`).
The provider clients are in `cascadeflow_integrations.providers`."""

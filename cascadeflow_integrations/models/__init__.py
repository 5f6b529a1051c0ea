"""The models a cascade runs: members (`members`), their configuration (`config`), prices (`prices`)
and the official-SDK provider clients (`providers`)."""

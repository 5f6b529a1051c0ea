"""The public API, pinned: the exact names each public package exports, and every old import path.

A name added to or removed from an `__all__` fails here first, so it is a decision, not an accident
(as langchain-openai's test_imports.py does). Old paths are kept as re-exports for one release: each
must still import, and hand back the very same objects as the new home.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

EXPECTED_ALL = {
    "cascadeflow_integrations": [
        "CacheControl", "CascadeAgent", "CascadeMember", "CascadeResult", "Member", "ModelConfig", "Price",
        "StreamingMode",
    ],
    "cascadeflow_integrations.errors": [
        "AuthenticationError", "BadRequestError", "BudgetError", "BudgetExceededError", "BudgetUnavailableError",
        "CascadeError", "ConfigError", "ConnectionFailedError", "InputError", "LabelError", "MissingLabel",
        "NotEnoughLabels", "OverloadedError", "PolicyFileError", "ProviderError", "ProviderTimeoutError",
        "RateLimitError", "RecordError", "RecordsFileError", "StreamInterruptedError", "UnknownOptionError", "redact",
    ],
    "cascadeflow_integrations.langchain": [
        "AsyncCascadeCallbackHandler", "CASCADE_EVENTS", "CascadeCallbackHandler", "CascadeCostCallback",
        "CascadeMiddleware", "ChatCascade", "LangChainMember", "Member", "get_cascade_callback",
    ],
    "cascadeflow_integrations.llama_index": [
        "CascadeCompleteEvent", "CascadeDecisionEvent", "CascadeErrorEvent", "CascadeEvent", "CascadeLLM",
        "CascadeRoutingEvent", "CascadeSwitchEvent", "to_universal_tools",
    ],
    "cascadeflow_integrations.learning": [
        "ANSWER_KINDS", "NotEnoughLabels", "Policy", "PolicyFileError", "PolicyValidator", "afit", "agreement",
        "answer_kind", "extract_answer", "fit",
    ],
    "cascadeflow_integrations.quality": [
        "AgreementCheck", "AllOf", "AnswerPresenceCheck", "COMPLEXITIES", "CalibrationResult", "CheckModel",
        "CheckResult", "CompletenessCheck", "ConsistencyCheck", "Decision", "Draft", "FunctionValidator",
        "JudgeValidator", "LogprobConfidence", "ModelCheck", "PartialDraft", "PromptDifficultyPrior",
        "RefusalCheck", "SelfCheck", "Staged", "Thresholds", "ToolCallCheck", "ToolRiskCheck",
        "ValidationRequest", "Validator", "WeightedScore", "as_validator", "calibrate", "default_validator",
        "evaluate", "evaluate_sync",
    ],
    "cascadeflow_integrations.stores": [
        "BudgetStore", "DecisionRow", "DecisionStore", "LABEL_SOURCES", "LABEL_TARGETS", "Label",
        "MemoryBudgetStore", "MemoryStore", "PolicyFollower", "PolicyRecord", "RedisStore", "ReserveResult",
        "SQLiteStore", "StoreStats", "open_store", "prompt_fingerprint",
    ],
    "cascadeflow_integrations.tools": [
        "JSONStreamError", "ProgressiveJSONParser", "ToolCall", "ToolCallFormat", "ToolChoice", "ToolConfig",
        "ToolExecutor", "ToolResult", "normalize_tool", "normalize_tool_choice", "normalize_tools",
        "partial_arguments_violation", "schema_from_function", "validate_tool_call",
    ],
    "cascadeflow_integrations.providers": [
        "PROVIDERS", "Provider", "ProviderFactory", "create_provider", "register_provider",
    ],
    "cascadeflow_integrations.models.providers": [
        "PROVIDERS", "Provider", "ProviderFactory", "create_provider", "register_provider",
    ],
    "cascadeflow_integrations.replay": ["ReplayServer", "Reply", "replay_server"],
}

#: (old module, new module, names that must be the same object in both)
OLD_PATHS = [
    ("cascadeflow_integrations.budget", "cascadeflow_integrations.errors",
     ["BudgetExceededError", "BudgetUnavailableError", "CascadeError"]),
    ("cascadeflow_integrations.budget", "cascadeflow_integrations.stores.budget",
     ["BudgetStore", "MemoryBudgetStore", "ReserveResult", "NANO", "to_nano"]),
    ("cascadeflow_integrations.budget", "cascadeflow_integrations.stores",
     ["BudgetStore", "MemoryBudgetStore", "ReserveResult"]),
    ("cascadeflow_integrations.learning.policy", "cascadeflow_integrations.errors", ["PolicyFileError"]),
    ("cascadeflow_integrations.learning.fit", "cascadeflow_integrations.errors", ["NotEnoughLabels", "RecordError"]),
    ("cascadeflow_integrations.learning.cli", "cascadeflow_integrations.errors", ["InputError"]),
    ("cascadeflow_integrations.quality.calibrate", "cascadeflow_integrations.errors",
     ["MissingLabel", "RecordsFileError"]),
    ("cascadeflow_integrations.quality.calibrate", "cascadeflow_integrations.learning.calibrate",
     ["calibrate", "CalibrationResult", "Item", "calibrate_scored", "choose_threshold_robust", "read_records",
      "score_items", "to_items", "main", "_price", "_quality"]),
    # not `calibrate`: once the submodule `quality.calibrate` is imported, Python binds that name to it (as before)
    ("cascadeflow_integrations.quality", "cascadeflow_integrations.learning.calibrate", ["CalibrationResult"]),
    ("cascadeflow_integrations.learning", "cascadeflow_integrations.errors", ["NotEnoughLabels", "PolicyFileError"]),
    ("cascadeflow_integrations.quality.routellm", "cascadeflow_integrations.learning.routellm",
     ["CHEAP_MODEL", "STRONG_MODEL", "PRICES_PER_M", "est_tokens", "load_gsm8k", "load_mtbench"]),
    ("cascadeflow_integrations.tools", "cascadeflow_integrations.tools.json_stream", ["JSONStreamError"]),
    ("cascadeflow_integrations.agent", "cascadeflow_integrations", ["CascadeAgent"]),
    ("cascadeflow_integrations.engine", "cascadeflow_integrations.cascade.engine",
     ["StreamingMode", "CallOptions", "CascadeRun", "_Aborted"]),
    ("cascadeflow_integrations.streaming", "cascadeflow_integrations.cascade.streaming",
     ["Routing", "TextChunk", "ToolCallStart", "ToolCallDelta", "ToolCallComplete", "DraftDecision", "Switch",
      "Complete", "Error"]),
    ("cascadeflow_integrations.spec", "cascadeflow_integrations.cascade.spec", ["CascadeOptions", "OPTIONS"]),
    ("cascadeflow_integrations.hooks", "cascadeflow_integrations.cascade.hooks", ["RunHook", "RoutePlan"]),
    ("cascadeflow_integrations.members", "cascadeflow_integrations", ["CascadeMember", "Member"]),
    ("cascadeflow_integrations.config", "cascadeflow_integrations", ["CacheControl", "ModelConfig"]),
    ("cascadeflow_integrations.prices", "cascadeflow_integrations", ["Price"]),
    ("cascadeflow_integrations.providers", "cascadeflow_integrations.models.providers",
     ["PROVIDERS", "Provider", "ProviderFactory", "create_provider", "register_provider"]),
    ("cascadeflow_integrations.providers.openai", "cascadeflow_integrations.models.providers.openai",
     ["OpenAIProvider", "_usage"]),
]


@pytest.mark.parametrize("module", sorted(EXPECTED_ALL))
def test_all_is_exactly_the_published_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(EXPECTED_ALL[module])
    assert len(set(mod.__all__)) == len(mod.__all__), "a name is listed twice"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name} does not resolve"


@pytest.mark.parametrize(("old", "new", "names"), OLD_PATHS, ids=[o for o, _, _ in OLD_PATHS])
def test_old_paths_import_the_same_objects(old: str, new: str, names: list[str]) -> None:
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_mod, name) is getattr(new_mod, name), f"{old}.{name} is not {new}.{name}"


#: old module path -> the module it now is (the old path is that very module, so patches reach it)
MOVED_MODULES = {
    "cascadeflow_integrations.quality.calibrate": "cascadeflow_integrations.learning.calibrate",
    "cascadeflow_integrations.quality.routellm": "cascadeflow_integrations.learning.routellm",
    "cascadeflow_integrations.agent": "cascadeflow_integrations.cascade.agent",
    "cascadeflow_integrations.engine": "cascadeflow_integrations.cascade.engine",
    "cascadeflow_integrations.streaming": "cascadeflow_integrations.cascade.streaming",
    "cascadeflow_integrations.spec": "cascadeflow_integrations.cascade.spec",
    "cascadeflow_integrations.hooks": "cascadeflow_integrations.cascade.hooks",
    "cascadeflow_integrations.members": "cascadeflow_integrations.models.members",
    "cascadeflow_integrations.config": "cascadeflow_integrations.models.config",
    "cascadeflow_integrations.prices": "cascadeflow_integrations.models.prices",
    **{f"cascadeflow_integrations.providers.{m}": f"cascadeflow_integrations.models.providers.{m}"
       for m in ("base", "openai", "anthropic", "groq", "_client", "_sse", "_convert", "_errors")},
}


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_a_moved_module_is_the_same_module_at_its_old_path(old: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(MOVED_MODULES[old])


def test_errors_form_one_tree_and_keep_their_value_error_base() -> None:
    from cascadeflow_integrations import errors as e

    for name in e.__all__:
        obj = getattr(e, name)
        if isinstance(obj, type):
            assert issubclass(obj, e.CascadeError), f"{name} is outside the CascadeError tree"
    # `except ValueError` written against earlier releases still catches these
    for cls in (e.ConfigError, e.PolicyFileError, e.LabelError, e.MissingLabel, e.NotEnoughLabels,
                e.RecordError, e.RecordsFileError, e.InputError):
        assert issubclass(cls, ValueError), cls
    for cls in (e.BudgetExceededError, e.BudgetUnavailableError):
        assert issubclass(cls, e.BudgetError)
    for cls in (e.MissingLabel, e.NotEnoughLabels, e.RecordError):
        assert issubclass(cls, e.LabelError)


def test_an_unknown_option_is_a_config_error_and_still_a_value_error() -> None:
    from cascadeflow_integrations import CascadeAgent, ModelConfig
    from cascadeflow_integrations.errors import ConfigError

    models = [ModelConfig(name="a", provider="openai", cost=0.0001, api_key="k"),
              ModelConfig(name="b", provider="openai", cost=0.001, api_key="k")]
    with pytest.raises(ConfigError, match="draft_timout"):
        CascadeAgent(models, draft_timout=5)
    with pytest.raises(ValueError, match="draft_timout"):
        CascadeAgent(models, draft_timout=5)


@pytest.mark.parametrize("module", ["cascadeflow_integrations.quality.calibrate"])
def test_old_module_paths_stay_runnable_with_python_m(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout

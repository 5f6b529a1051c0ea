"""Logging follows the standard library's rule for libraries (issue 16, item 8).

Global logging state matters here, and pytest installs its own handlers, so each case runs a
cascade in a fresh interpreter: the draft fails with HTTP 500 (a handled failure, logged as a
warning) and the strong model answers.
"""

from __future__ import annotations

import textwrap

import pytest
from replay_helpers import run_offline

SCRIPT = """
import asyncio, logging, sys
sys.path.insert(0, "tests")
{before}
from replay_helpers import CHEAP, STRONG, model, say
from cascadeflow_integrations import CascadeAgent
from cascadeflow_integrations.replay import Reply, ReplayServer

server = ReplayServer().start()
server.add(CHEAP, Reply(status=500, body='{{"error":{{"message":"boom","type":"server_error"}}}}'))
say(server, STRONG, "The strong answer.")
agents = [CascadeAgent([model(server, CHEAP), model(server, STRONG)], verbose={verbose}) for _ in range(2)]
{after}
print("ANSWER", asyncio.run(agents[0].run("q")).content)
lg = logging.getLogger("cascadeflow_integrations")
print("LEVEL", logging.getLevelName(lg.level), "HANDLERS", ",".join(type(h).__name__ for h in lg.handlers))
server.stop()
"""

FAILED = "model gpt-4o-mini failed"
SWITCH = "switch gpt-4o-mini -> gpt-4o"


def run(verbose: bool, before: str = "", after: str = "") -> tuple[str, str]:
    code = SCRIPT.format(before=textwrap.dedent(before), after=textwrap.dedent(after), verbose=verbose)
    proc = run_offline("-c", code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ANSWER The strong answer." in proc.stdout  # the draft failed and the cascade escalated
    return proc.stdout, proc.stderr


def test_quiet_by_default_nothing_reaches_last_resort():
    out, err = run(verbose=False)
    assert err == ""  # the warning about the failed draft went to the NullHandler, not to stderr
    assert "LEVEL NOTSET HANDLERS NullHandler" in out


def test_verbose_without_logging_configured_prints_each_line_once():
    out, err = run(verbose=True)  # two verbose agents
    assert err.count(FAILED) == 1 and err.count(SWITCH) == 1
    assert f"[cascadeflow] {SWITCH}" in err
    assert "LEVEL INFO HANDLERS NullHandler,_VerboseHandler" in out


def test_verbose_leaves_the_applications_levels_and_handlers_alone():
    before = """
    logging.basicConfig(level=logging.DEBUG, format="APP %(levelname)s %(message)s")
    logging.getLogger("cascadeflow_integrations").setLevel(logging.DEBUG)
    """
    out, err = run(verbose=True, before=before)
    assert err.count(FAILED) == 1 and err.count(SWITCH) == 1
    assert f"APP INFO {SWITCH}" in err and "[cascadeflow]" not in err
    assert "LEVEL DEBUG HANDLERS NullHandler" in out  # DEBUG kept, no handler added


def test_logging_configured_after_a_verbose_agent_prints_once():
    after = 'logging.basicConfig(level=logging.INFO, format="APP %(message)s")'
    out, err = run(verbose=True, after=after)
    assert err.count(FAILED) == 1 and err.count(SWITCH) == 1
    assert f"APP {SWITCH}" in err and "[cascadeflow]" not in err


def test_verbose_with_a_handler_on_the_library_logger_adds_nothing():
    before = """
    lg = logging.getLogger("cascadeflow_integrations")
    lg.addHandler(logging.StreamHandler(sys.stdout))
    lg.setLevel(logging.WARNING)
    """
    out, err = run(verbose=True, before=before)
    assert err == ""
    assert out.count(FAILED) == 1 and SWITCH not in out  # WARNING kept: INFO lines are not shown
    assert "LEVEL WARNING HANDLERS StreamHandler,NullHandler" in out


@pytest.mark.parametrize("verbose", [False, True])
def test_null_handler_installed_once_at_import(verbose):
    out, _ = run(verbose=verbose, before="import cascadeflow_integrations, importlib\n"
                                         "importlib.reload(cascadeflow_integrations)")
    assert out.count("NullHandler") == 1

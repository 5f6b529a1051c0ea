"""cascadeflow-integrations: cheap-model-first LLM cascades that stream, for LangChain and LlamaIndex."""

from ._log import install_null_handler

install_null_handler()

from .agent import CascadeAgent  # noqa: E402 - after the logger is set up
from .config import CacheControl, ModelConfig
from .engine import StreamingMode
from .members import CascadeMember, Member
from .prices import Price
from .result import CascadeResult

__all__ = ["CacheControl", "CascadeAgent", "CascadeMember", "CascadeResult", "Member", "ModelConfig", "Price", "StreamingMode"]
__version__ = "0.1.0"

"""cascadeflow-integrations: cheap-model-first LLM cascades that stream, for LangChain and LlamaIndex."""

from ._log import install_null_handler

install_null_handler()

from .cascade.agent import CascadeAgent  # noqa: E402 - after the logger is set up
from .models.config import CacheControl, ModelConfig
from .cascade.engine import StreamingMode
from .models.members import CascadeMember, Member
from .models.prices import Price
from .result import CascadeResult

__all__ = ["CacheControl", "CascadeAgent", "CascadeMember", "CascadeResult", "Member", "ModelConfig", "Price", "StreamingMode"]
__version__ = "0.1.0"

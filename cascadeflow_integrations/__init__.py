"""cascadeflow-integrations: cheap-model-first LLM cascades that stream, for LangChain and LlamaIndex."""

from .agent import CascadeAgent
from .config import ModelConfig
from .engine import StreamingMode
from .result import CascadeResult

__all__ = ["CascadeAgent", "CascadeResult", "ModelConfig", "StreamingMode"]
__version__ = "0.1.0"

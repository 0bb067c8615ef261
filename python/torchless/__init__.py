"""torchless: Hugging Face Transformers checkpoints run by a C engine, no PyTorch."""
from ._lib import TorchlessError, lib as _lib
from .model import Model
from .optimize import OptimizedModel, optimize
from .pipeline import Pipeline, pipeline
from .tokenizer import Encoding, Tokenizer

__version__ = _lib.tl_version().decode()

__all__ = ["optimize", "OptimizedModel", "pipeline", "Pipeline", "Model", "Tokenizer", "Encoding", "TorchlessError", "__version__"]

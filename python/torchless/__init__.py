"""torchless: Hugging Face Transformers checkpoints run by a C engine, no PyTorch."""
from ._lib import TorchlessError, TorchlessNumericError, lib as _lib
from .env import check_num_threads as _check_num_threads
from .engine import Engine, Request
from .model import Config, Model
from .optimize import OptimizedModel, optimize
from .pipeline import Pipeline, pipeline
from .tokenizer import Encoding, Tokenizer

_check_num_threads()  # TORCHLESS_NUM_THREADS=abc or 0 is an error, not a silent default

__version__ = _lib.tl_version().decode()

__all__ = ["Engine", "Request", "optimize", "OptimizedModel", "pipeline", "Pipeline", "Model", "Config", "Tokenizer", "Encoding",
           "TorchlessError", "TorchlessNumericError", "__version__"]

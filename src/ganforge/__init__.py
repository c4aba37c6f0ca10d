"""ganforge: train, diagnose and evaluate generative adversarial networks on PyTorch."""

from .config import Config, load_config
from .errors import GanforgeError

__version__ = "0.1.0"
__all__ = ["Config", "GanforgeError", "load_config", "__version__"]

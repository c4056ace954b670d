"""lstmae: LSTM autoencoders for sequence data.

>>> from lstmae import LSTMAutoencoder
>>> ae = LSTMAutoencoder(task="composite", horizon=10).fit(X)   # X: (N, L, F)
"""
from ._version import __version__  # noqa: E402
from .config import ModelConfig  # noqa: E402
from .estimators import LSTMAutoencoder  # noqa: E402
from .classifier import LSTMClassifier  # noqa: E402
from .detector import LSTMAnomalyDetector  # noqa: E402
from .serialization import ModelFileError, load_model  # noqa: E402

__all__ = ["LSTMAnomalyDetector", "LSTMAutoencoder", "LSTMClassifier", "ModelConfig", "ModelFileError", "__version__",
           "load_model"]

"""lstmae: LSTM autoencoders for sequence data."""
__version__ = "0.1.0"

"""CheckpointError, in a module of its own so that the standard-library parts of the exporter
(tokenizer_json.py) raise the same error as load_checkpoints.py without importing torch."""


class CheckpointError(ValueError):
    """A checkpoint file is missing, incomplete or not the expected model."""

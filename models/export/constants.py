"""Settings that the command line shows in --help: kept here, with the standard library only, so that
`python -m models.export --help` works before torch, transformers, diffusers and onnx are installed."""

#: Protobuf cannot serialise a message over 2 GiB; above this many bytes of weights a model keeps
#: them in one external data file next to it (<file>.data).
EXTERNAL_DATA_THRESHOLD = 1_800_000_000

#: --llm-weights: the decoder's weight formats (matmul_nbits.LlmWeights)
LLM_FORMATS = ("fp32", "fp16", "int8", "int4")
#: --quant-scheme (block_quantize.SCHEMES)
SCHEMES = ("asymmetric", "symmetric")

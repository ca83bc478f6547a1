"""Stage 2, decode: chunks -> records grouped by partition (``stage``), inline or in processes."""

from pump.decode.partition import Partitioner, java_partition, murmur2
from pump.decode.stage import Decoded, DecodeStage, InlineDecode, build_decoders, decode_processes_for

__all__ = ("DecodeStage", "Decoded", "InlineDecode", "Partitioner", "build_decoders", "decode_processes_for", "java_partition",
           "murmur2")  # fmt: skip

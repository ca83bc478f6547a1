"""The aiokafka boundary: the only package that imports aiokafka (a test keeps it so)."""

from pump.output.kafka.producer import KafkaCluster, KafkaSink

__all__ = ("KafkaCluster", "KafkaSink")

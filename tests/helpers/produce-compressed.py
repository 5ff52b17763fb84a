"""Publishes pre-encoded messages with librdkafka (Debian's python3-confluent-kafka), compressed.

A producer other than kafkajs, as services in other languages are: the test encodes the Avro
bytes and this script only produces them. Input on stdin, one JSON object:
  {"brokers": "...", "topic": "...", "compression": "gzip|snappy|lz4|zstd",
   "messages": [{"key": "<base64>", "value": "<base64>", "partition": 0}, ...]}
Prints {"delivered": N, "errors": [...]} and exits non-zero unless every message was delivered.
"""
import base64
import json
import sys

from confluent_kafka import Producer

spec = json.load(sys.stdin)
producer = Producer({
    "bootstrap.servers": spec["brokers"],
    "compression.type": spec["compression"],
    "enable.idempotence": True,
    "acks": "all",
    # Enough linger that several messages share a batch, so each batch is really compressed.
    "linger.ms": 50,
})
delivered = 0
errors = []


def on_delivery(err, _msg):
    global delivered
    if err is not None:
        errors.append(str(err))
    else:
        delivered += 1


for m in spec["messages"]:
    kwargs = {"key": base64.b64decode(m["key"]), "value": base64.b64decode(m["value"]), "on_delivery": on_delivery}
    if "partition" in m:
        kwargs["partition"] = m["partition"]
    producer.produce(spec["topic"], **kwargs)
    producer.poll(0)
remaining = producer.flush(30)
print(json.dumps({"delivered": delivered, "errors": errors, "undelivered": remaining}))
sys.exit(0 if delivered == len(spec["messages"]) and not errors else 1)

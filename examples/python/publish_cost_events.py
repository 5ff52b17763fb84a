#!/usr/bin/python3
"""Publishes cost events to the pipeline with the Confluent Python client, as a Python service would.

Debian's packages only (apt-get install python3-confluent-kafka python3-avro); see docs/producers.md.

  /usr/bin/python3 examples/python/publish_cost_events.py \
      --brokers 127.0.0.1:19092 --registry http://127.0.0.1:18081/apis/ccompat/v7 \
      --topic finops.cost-events.v1 --count 1000 --persona-prefix py-demo

What it gets right, each a pitfall of its own (docs/producers.md explains them):
  * the schema id is looked up in the registry (subject <topic>-value), never auto-registered;
  * amounts are Decimals quantized to scale 9 before encoding (python3-avro writes a Decimal's
    digits as they are: Decimal('1.5') unquantized would be read as 0.000000015);
  * keys are the persona id as UTF-8 bytes, partitioned with murmur2 like the Java client and the SDK;
  * the producer is idempotent with acks=all; batches are lz4-compressed.
Prints one JSON line: {"published": N, "failed": 0, "amount_usd": "<exact sum>", "schema_id": id}.
"""
import argparse
import io
import json
import struct
import sys
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import avro.io
import avro.schema
from confluent_kafka import Producer

NANO = Decimal("0.000000001")  # the schema's amount is decimal(20, 9)
MICRO = Decimal("0.000001")  # cpu_cores and memory_gb are decimal(18, 6)

# This service's own price table (USD per million tokens); every event records the prices it used.
PRICES = {
    "gpt-4o": {"input_mtok": Decimal("2.5"), "output_mtok": Decimal("10")},
    "gpt-4o-mini": {"input_mtok": Decimal("0.15"), "output_mtok": Decimal("0.6")},
}
PRICE_VERSION = "python-example-2026-01"


def latest_schema(registry, subject):
    """The registered schema and its id: GET /subjects/{subject}/versions/latest (no registration)."""
    url = f"{registry.rstrip('/')}/subjects/{urllib.parse.quote(subject, safe='')}/versions/latest"
    with urllib.request.urlopen(url, timeout=10) as res:
        body = json.load(res)
    return body["id"], avro.schema.parse(body["schema"])


def encode(schema_id, writer, record):
    """Confluent wire format: magic byte 0, the schema id as 4 bytes big-endian, the Avro body."""
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    writer.write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def llm_cost(model, input_tokens, output_tokens, quantize=True):
    p = PRICES[model]
    exact = (Decimal(input_tokens) * p["input_mtok"] + Decimal(output_tokens) * p["output_mtok"]) / Decimal(1_000_000)
    # Quantize to the schema's scale 9, rounding half-up once: what is encoded is exactly this.
    return exact.quantize(NANO, rounding=ROUND_HALF_UP) if quantize else exact


def cost_event(persona_id, post_id, model, input_tokens, output_tokens, quantize=True):
    return {
        "event_id": str(uuid.uuid4()),  # keep it: a retry of this event must reuse it
        "event_time": datetime.now(timezone.utc),  # timestamp-millis: an aware datetime, UTC
        "cost_type": "openai_api",
        "amount": llm_cost(model, input_tokens, output_tokens, quantize),
        "currency": "USD",
        "persona_id": persona_id,
        "post_id": post_id,
        "operation": "hook_generation",
        "service": "python-example",
        "correlation_id": None,
        "request_id": None,
        "llm_usage": {"provider": "openai", "model": model, "input_tokens": input_tokens,
                      "output_tokens": output_tokens, "cached_input_tokens": 0},
        "compute_usage": None,
        "vector_db_usage": None,
        "price": {"source": "python-example", "version": PRICE_VERSION, "status": "priced",
                  "unit_prices": {k: str(v) for k, v in PRICES[model].items()}},
        "metadata": {"language": "python"},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="127.0.0.1:19092")
    ap.add_argument("--registry", default="http://127.0.0.1:18081/apis/ccompat/v7")
    ap.add_argument("--topic", default="finops.cost-events.v1")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--persona-prefix", default="py-demo")
    ap.add_argument("--personas", type=int, default=7)
    ap.add_argument("--compression", default="lz4", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    ap.add_argument("--no-quantize", action="store_true", help="show the pitfall: write amounts unquantized (storage dead-letters them)")
    args = ap.parse_args()

    schema_id, schema = latest_schema(args.registry, f"{args.topic}-value")
    writer = avro.io.DatumWriter(schema)
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "enable.idempotence": True,  # implies acks=all, retries, at most 5 in flight, in order
        "acks": "all",
        "partitioner": "murmur2_random",  # the Java client's (and the SDK's) partitioner; librdkafka's default differs
        "compression.type": args.compression,
        "linger.ms": 5,
        "delivery.timeout.ms": 120000,
    })

    delivered = 0
    errors = []

    def on_delivery(err, _msg):
        nonlocal delivered
        if err is not None:
            errors.append(str(err))
        else:
            delivered += 1

    total = Decimal(0)
    models = list(PRICES)
    for i in range(args.count):
        persona = f"{args.persona_prefix}-persona-{i % args.personas}"
        event = cost_event(persona, f"{args.persona_prefix}-post-{i % 50}", models[i % len(models)], 100 + (i * 37) % 5000, 10 + (i * 13) % 800,
                           quantize=not args.no_quantize)
        total += event["amount"]
        value = encode(schema_id, writer, event)
        while True:
            try:
                producer.produce(args.topic, key=persona.encode("utf-8"), value=value, on_delivery=on_delivery)
                break
            except BufferError:  # the local queue is full: serve delivery reports, then try again
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    print(json.dumps({"published": delivered, "failed": len(errors) + remaining, "errors": errors[:5],
                      "amount_usd": str(total.quantize(NANO)), "schema_id": schema_id}))
    return 0 if delivered == args.count else 1


if __name__ == "__main__":
    sys.exit(main())

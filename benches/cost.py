"""What one million invites cost, from the figures the other benchmarks measured (make bench
writes them to BENCH_FIGURES): the Rust Lambda next to a Python Lambda doing the same job.

Both make the same AWS calls (the design is the same, only the language differs), so S3, SQS, SNS
and DynamoDB cost the same; the Lambda's GB-seconds differ. Durations are modelled the way
benches/batch.rs models them: each AWS call waits its latency, and the CPU part runs on the
fraction of a core a Lambda of M MB gets (M / 1769, AWS's documented one vCPU at 1,769 MB).

- Rust: the measured create (benches/batch.rs: 5 round trips, the clear beside the delete), plus
  the real binary's CPU time per invite in a warm batch (benches/lambda_process.rs) slowed to
  the Lambda's share.
- Python: every call one after another (6 round trips, as a plain boto3 handler makes them), plus
  the measured email + icalendar parse (benches/python_baseline.py) slowed the same way. boto3's
  own CPU per call and Python's larger memory are not counted: both favour Python.

Prices: us-east-1, on-demand, arm64, as published by AWS in 2025 (Lambda $0.0000133334 per
GB-s and $0.20 per million requests; DynamoDB on-demand $0.625 per million write and $0.125 per
million read request units; SNS $0.50 per million publishes; SQS $0.40 per million requests; S3
GET $0.40 per million). Free tiers are ignored; SES receiving and storing the mail (the same for
both) is left out.

Usage: python benches/cost.py FIGURES_DIR
"""

import json
import math
import os
import sys

LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
SNS_PUBLISH = 0.50 / 1e6
SQS_REQUEST = 0.40 / 1e6
S3_GET = 0.40 / 1e6
MB_PER_VCPU = 1769
MILLION = 1e6


def load(directory, name):
    with open(os.path.join(directory, f"{name}.json")) as figures:
        return json.load(figures)


def memory_for_batch(process, batch_concurrency=10, max_email_mb=10 * 1024 * 1024 / 1e6):
    """The memory a batch of the largest emails needs, from the measured peaks (what the CDK
    app's memoryForBatch encodes): init, plus each email in flight at its measured cost per MB."""
    per_email_mb = process["peak_rss_large_mb"] - process["peak_rss_after_init_mb"]
    per_mb = per_email_mb / process["large_email_mb"]
    needed = process["peak_rss_after_init_mb"] + batch_concurrency * per_mb * max_email_mb
    return needed, max(128, math.ceil(needed / 64) * 64)


def main():
    directory = sys.argv[1]
    batch = load(directory, "batch")
    process = load(directory, "lambda_process")
    python = load(directory, "python_baseline")

    needed, memory_mb = memory_for_batch(process)
    core_share = memory_mb / MB_PER_VCPU
    print(f"memory: {memory_mb} MB: a batch of ten 10 MiB emails needs {needed:.0f} MB at the "
          f"measured cost (init {process['peak_rss_after_init_mb']:.1f} MB, one 10 MB email "
          f"{process['peak_rss_large_mb']:.1f} MB, ten at once against moto "
          f"{process['peak_rss_batch_of_large_mb']:.1f} MB); "
          f"a {memory_mb} MB Lambda runs on {core_share:.3f} of a core")

    create = batch["one_create"]
    calls, latency = create["calls"], create["latency_ms"]
    rust_cpu_ms = process["cpu_ms_per_invite"]
    python_cpu_ms = python["per_email_us"] / 1e3
    # The measured create already ran its CPU part on a whole core: add only the slow-down.
    rust_ms = batch["one_create_ms"] + rust_cpu_ms * (1 / core_share - 1)
    python_waits = sum(calls[kind] * latency[kind] for kind in calls)
    python_ms = python_waits + python_cpu_ms / core_share
    rust_batch_ms = batch["batch_of_10_creates_ms"] / 10 + rust_cpu_ms * (1 / core_share - 1)
    python_batch_ms = python_ms  # a Python handler loops over its records

    record_kb = (process["ledger_record_bytes"] + process["message_bytes"]) / 1024
    write_units = 2 * math.ceil(record_kb) + math.ceil(record_kb)  # transactional commit + clear
    read_units = 1  # one strongly consistent GetItem under 4 KB
    shared = {
        "S3 GET (the email)": S3_GET * calls["s3"],
        "DynamoDB (1 read, commit + clear writes)": read_units * DYNAMODB_READ_UNIT
        + write_units * DYNAMODB_WRITE_UNIT,
        "SNS publish": SNS_PUBLISH * calls["sns"],
    }

    def scenario(duration_ms, records_per_invocation):
        # S3's SendMessage and our DeleteMessage per invite; the poller's ReceiveMessage and
        # DeleteMessageBatch per invocation.
        sqs = SQS_REQUEST * (2 + 2 / records_per_invocation)
        lambda_requests = LAMBDA_REQUEST / records_per_invocation
        gb_seconds = duration_ms / 1e3 * memory_mb / 1024
        rows = {"Lambda requests": lambda_requests, "Lambda GB-s": gb_seconds * LAMBDA_GB_SECOND,
                "SQS requests": sqs}
        rows.update(shared)
        return rows

    columns = [
        ("Rust, 1 invite per invocation", scenario(rust_ms, 1), rust_ms),
        ("Python, 1 invite per invocation", scenario(python_ms, 1), python_ms),
        ("Rust, batches of 10", scenario(rust_batch_ms, 10), rust_batch_ms),
        ("Python, batches of 10", scenario(python_batch_ms, 10), python_batch_ms),
    ]
    print(f"DynamoDB: {write_units} write units and {read_units} read unit per create "
          f"(record + message in the outbox: {record_kb:.2f} KB)")
    print()
    print("| per million invites | " + " | ".join(name for name, _, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    print("| Lambda time per invite | " + " | ".join(f"{ms:.1f} ms" for _, _, ms in columns) + " |")
    for row in columns[0][1]:
        print(f"| {row} | " + " | ".join(f"${rows[row] * MILLION:.2f}" for _, rows, _ in columns) + " |")
    print("| **total** | " + " | ".join(f"**${sum(rows.values()) * MILLION:.2f}**"
                                       for _, rows, _ in columns) + " |")


if __name__ == "__main__":
    main()

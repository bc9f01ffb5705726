"""Reads a Prometheus text exposition on stdin and prints its samples as JSON lines.

tests/suite/ops.rs scrapes /metrics through the real router and checks it with this: the official
Python client's parser (Debian's python3-prometheus-client, installed by
scripts/setup-test-env.sh), independent of the Rust code that wrote the text. A line the
parser refuses fails the script, and so the test.
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        print(json.dumps({
            "family": family.name,
            "type": family.type,
            "name": sample.name,
            "labels": sample.labels,
            "value": sample.value,
        }))

"""Logger, metrics and tracer shared by every function (configured by POWERTOOLS_* variables).

Defaults apply when the variables are absent at import time (tests, the local stack importing
the package before it sets a function's environment): metrics without a namespace would make
``log_metrics`` raise at the end of an otherwise successful invocation.
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "car-marketplace"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "CarMarketplace"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

"""Logger, Tracer and Metrics: created once here and imported everywhere."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from ivs_revocation import names

logger = Logger(service=names.SERVICE_NAME)
tracer = Tracer(service=names.SERVICE_NAME)
metrics = Metrics(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)

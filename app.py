#!/usr/bin/env python3
"""CDK entry point: settings from cdk.json context (and `-c key=value`), one stack, cdk-nag checks."""

import sys
from pathlib import Path

# The function's package names the environment keys and metrics the stack wires up.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))

from aws_cdk import App

from infra.app import build

app = App()
build(app)
app.synth()

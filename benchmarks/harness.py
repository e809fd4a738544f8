"""What the in-process measurements share: the function's environment, an instant IVS, a context.

The instant IVS is a real botocore IVS client whose HTTP send is answered in memory (botocore's
`before-send` event): every call is serialized, signed and its response parsed, as against the
service, but nothing waits on a network or a quota. The function and the peer both get one, so the
CPU they spend in botocore counts for both.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.workload import ACCOUNT, REGION

if TYPE_CHECKING:
    from infra.settings import DeploySettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

PRODUCT = "ivs_revocation.handler"
PEER = "benchmarks.peer.handler"
MINIMAL = "benchmarks.peer.minimal"
TARGETS = {"product": PRODUCT, "peer": PEER, "minimal": MINIMAL}


def deploy_settings() -> DeploySettings:
    # Imported here: the measured processes import this module, and must not load pydantic for it.
    from infra.settings import DeploySettings

    return DeploySettings.from_cdk_json()


def subprocess_environment(lane: str = "bulk") -> dict[str, str]:
    """A child interpreter's environment: the variables the stack gives `lane`'s function (from
    cdk.json), plus what Lambda and credentials add, the function found on sys.path as Lambda finds
    /var/task.

    Tracing is off: there is no X-Ray daemon here, and on Lambda the trace is sent asynchronously.
    """
    settings = deploy_settings()
    queues = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}"
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    urgent = lane == "urgent"
    env |= settings.function_environment(
        dead_letter_queue_url=f"{queues}/revocations-dlq",
        source_queue_url=f"{queues}/revocations-urgent" if urgent else f"{queues}/revocations",
        region=REGION,
        lane=lane,
        bulk_queue_url=f"{queues}/revocations" if urgent else None,
    )
    env.update(
        {
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK",
            "AWS_SECRET_ACCESS_KEY": "benchmark",
            "AWS_LAMBDA_FUNCTION_NAME": "revocation",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(settings.function_memory_mb),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda_src"), str(ROOT)]),
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def run_python(
    *args: str, timeout: float | None = None, check: bool = False, lane: str = "bulk"
) -> subprocess.CompletedProcess[str]:
    """A child interpreter with `lane`'s function environment, from the repository's root; stdout discarded."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=subprocess_environment(lane),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=check,
    )


class _Raw:
    """The raw stream botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


@dataclass
class InstantIvs:
    """Answers every BatchStartViewerSessionRevocation at once, with no per-pair error."""

    record: bool = False
    calls: int = 0
    pairs: int = 0
    revoked: dict[tuple[str, str], int] = field(default_factory=dict)

    def answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.calls += 1
        if self.record:
            # Imported here: only the calls benchmark records, and the peer's measured processes must
            # not load the function's package.
            from ivs_revocation.models import RevocationRequest

            sessions = RevocationRequest.model_validate_json(request.body).viewer_sessions
            self.pairs += len(sessions)
            for session in sessions:
                self.revoked[session.key] = max(session.version, self.revoked.get(session.key, -1))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(b'{"errors":[]}'))

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.ivs.BatchStartViewerSessionRevocation", self.answer)
        return client


class MemoryQueue:
    """A queue-writer port (dead letters, requeue) in memory: the benchmarks expect no message, and count any."""

    def __init__(self) -> None:
        self.letters: list[Any] = []

    def send(self, letters: Any) -> set[int]:
        self.letters.extend(letters)
        return set()


class NoDeadlineContext:
    """What Powertools and the function read of a LambdaContext; time never runs out here."""

    function_name = "revocation"
    function_version = "$LATEST"
    # The workload's account and region: the function revokes only in its own account (this ARN's)
    # and in IVS_REGIONS, so the benchmark's channels must be in both.
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:revocation"
    memory_limit_in_mb = 512
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/revocation"
    log_stream_name = "benchmark"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def load(target: str, ivs: InstantIvs) -> Any:
    """Imports a handler module and points its IVS at `ivs`; returns its Lambda entry point.

    The function keeps its own code path end to end (its entry point, made by the handler module
    around a service with its real Boto3IvsGateway); only its rate is raised so that the limiter
    never sleeps, since this measures CPU, not the quota.
    """
    module: Any = importlib.import_module(TARGETS[target])
    if target == "product":
        import boto3
        from botocore.config import Config

        from ivs_revocation.adapters.ivs import Boto3IvsGateway
        from ivs_revocation.service import RevocationService

        settings = module.settings.model_copy(update={"ivs_calls_per_second": 1e9})
        client = boto3.session.Session().client(
            "ivs", region_name="us-west-2", config=Config(retries={"mode": "standard", "total_max_attempts": 1})
        )
        gateway = Boto3IvsGateway(settings.ivs_call_timeout_seconds, clients={"us-west-2": ivs.attach(client)})
        service = RevocationService(settings, gateway=gateway, dead_letters=MemoryQueue(), requeue=MemoryQueue())
        return module.make_handler(service)
    if target == "peer":
        ivs.attach(module.ivs)
    return module.lambda_handler


def quiet_stdout() -> None:
    """Points file descriptor 1 at /dev/null: the handlers' JSON logs and EMF lines are not measured output."""
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)

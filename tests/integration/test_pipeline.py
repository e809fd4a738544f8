"""End to end on the local stack: producers -> SQS (or EventBridge) -> the real function -> IVS emulator / DLQ.

One stack for the module (the real handler, two instances); each test starts from empty queues and
an empty IVS ledger. The settings are cdk.json's with a 5-second function timeout, in which a message
of 45 pairs (three calls at one call per second per instance) fits one invocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.stack import RevocationStack
from ivs_revocation import names
from ivs_revocation.models import (
    ATTR_ATTEMPTS,
    ATTR_ERROR_CODE,
    ATTR_SOURCE_MESSAGE_ID,
    CODE_INVALID_MESSAGE,
    CODE_OUT_OF_SCOPE,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    DeadLetterMessage,
)
from ivs_revoke.dlq import DeadLetter
from local.clients import ACCOUNT_ID
from local.ivs_emulator import Ledger
from local.moto_process import MotoServer
from local.stack import LocalStack, instance_log_name
from tests.integration.conftest import assert_processes_gone, fast_settings

pytestmark = pytest.mark.integration

REGION = "us-west-2"
CLI_EXAMPLE = [
    {
        "channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh1",
        "viewerId": "abcdefg1",
        "viewerSessionVersionsLessThanOrEqualTo": 1234567890,
    },
    {
        "channelArn": "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCDefgh2",
        "viewerId": "abcdefg2",
        "viewerSessionVersionsLessThanOrEqualTo": 1234567890,
    },
]
FORBIDDEN = f"arn:aws:ivs:{REGION}:{ACCOUNT_ID}:channel/Forbidden"
DRAIN_SECONDS = 30


def channel(name: str = "Channel1", region: str = REGION) -> str:
    return f"arn:aws:ivs:{region}:{ACCOUNT_ID}:channel/{name}"


def pair(viewer: str, version: int | None = None, chan: str | None = None) -> dict[str, Any]:
    session: dict[str, Any] = {"channelArn": chan or channel(), "viewerId": viewer}
    if version is not None:
        session["viewerSessionVersionsLessThanOrEqualTo"] = version
    return session


@pytest.fixture(scope="module")
def module_stack(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = fast_settings(
        functionTimeoutSeconds=5, visibilityTimeoutSeconds=30, maxReceiveCount=2, maxBatchingWindowSeconds=1
    )
    # In its channels' region, as a stack deployed where its channels are: the settings name no other
    # scope (ivsRegions, channelArns), so its own region is the function's (IVS_REGIONS).
    stack = LocalStack(
        settings,
        region=REGION,
        moto=moto_server,
        ivs_options={"unauthorized_channels": [*(p["channelArn"] for p in CLI_EXAMPLE), FORBIDDEN]},
        log_dir=tmp_path_factory.mktemp("pipeline-logs"),
    )
    with stack:
        pids = stack.pids
        yield stack
    assert_processes_gone(pids)


@pytest.fixture
def stack(module_stack: LocalStack) -> LocalStack:
    module_stack.drain(DRAIN_SECONDS)
    module_stack.purge()
    return module_stack


def drained(stack: LocalStack) -> tuple[Ledger, list[DeadLetter]]:
    stack.drain(DRAIN_SECONDS)
    return stack.ivs.ledger(), stack.dead_letters()


def test_the_stack_is_provisioned_from_the_deploy_settings(stack: LocalStack) -> None:
    settings, resources = stack.settings, stack.resources
    queue = stack.sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["All"])["Attributes"]
    dlq = stack.sqs.get_queue_attributes(QueueUrl=resources.dead_letter_queue_url, AttributeNames=["All"])["Attributes"]
    assert int(queue["VisibilityTimeout"]) == settings.visibility_timeout_seconds
    assert int(queue["MessageRetentionPeriod"]) == settings.queue_retention_days * 86400
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": resources.dead_letter_queue_arn,
        "maxReceiveCount": settings.max_receive_count,
    }
    assert int(dlq["MessageRetentionPeriod"]) == settings.dead_letter_retention_days * 86400
    urgent = stack.sqs.get_queue_attributes(QueueUrl=resources.urgent_queue_url, AttributeNames=["All"])["Attributes"]
    assert int(urgent["VisibilityTimeout"]) == settings.urgent_visibility_timeout_seconds
    assert json.loads(urgent["RedrivePolicy"]) == json.loads(queue["RedrivePolicy"])
    assert json.loads(dlq["RedriveAllowPolicy"])["sourceQueueArns"] == [resources.queue_arn, resources.urgent_queue_arn]
    for rule_name, queue_arn in (
        (resources.rule_name, resources.queue_arn),
        (resources.urgent_rule_name, resources.urgent_queue_arn),
    ):
        rule = stack.events.describe_rule(Name=rule_name, EventBusName=resources.event_bus_name)
        pattern = json.loads(rule["EventPattern"])
        assert (pattern["source"], pattern["detail-type"]) == ([EVENT_SOURCE], [EVENT_DETAIL_TYPE])
        (target,) = stack.events.list_targets_by_rule(Rule=rule_name, EventBusName=resources.event_bus_name)["Targets"]
        assert target["Arn"] == queue_arn

    environment = stack.function_environment
    assert environment[names.ENV_MAX_RECEIVE_COUNT] == str(settings.max_receive_count)
    assert environment[names.ENV_DEAD_LETTER_QUEUE_URL] == resources.dead_letter_queue_url
    assert float(environment[names.ENV_IVS_CALLS_PER_SECOND]) == settings.ivs_calls_per_second
    assert environment["AWS_ENDPOINT_URL_IVS"] == stack.ivs.url
    assert environment["AWS_ENDPOINT_URL_SQS"] == stack.endpoint_url
    assert stack.runner is not None
    assert stack.runner.mapping.batch_size == settings.batch_size
    assert stack.runner.mapping.batching_window_seconds == settings.max_batching_window_seconds
    assert stack.runner.mapping.max_concurrency == settings.max_concurrency
    assert stack.runner.function.timeout_seconds == settings.function_timeout_seconds

    # The urgent lane: the same runner code with the urgent settings, its function told its lane.
    urgent_environment = stack.lane_environment(names.LANE_URGENT)
    assert urgent_environment[names.ENV_LANE] == names.LANE_URGENT
    assert urgent_environment[names.ENV_SOURCE_QUEUE_URL] == resources.urgent_queue_url
    assert urgent_environment[names.ENV_BULK_QUEUE_URL] == resources.queue_url
    assert urgent_environment[names.ENV_MAX_PAIRS_PER_MESSAGE] == str(settings.urgent_max_pairs_per_message)
    assert float(urgent_environment[names.ENV_IVS_CALLS_PER_SECOND]) == (
        settings.urgent_calls_per_second / settings.urgent_max_concurrency
    )
    assert stack.urgent_runner is not None
    assert stack.urgent_runner.mapping.queue_url == resources.urgent_queue_url
    assert stack.urgent_runner.mapping.batch_size == settings.urgent_batch_size
    assert stack.urgent_runner.mapping.batching_window_seconds == 0
    assert stack.urgent_runner.mapping.max_concurrency == settings.urgent_max_concurrency
    assert stack.urgent_runner.function.timeout_seconds == settings.urgent_function_timeout_seconds
    assert stack.urgent_runner.function.environment[names.ENV_LANE] == names.LANE_URGENT


# The queue attributes whose values the stack chooses; a property the template leaves out means SQS's default.
CONTRACT_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)
POLICY_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _template(stack: LocalStack, outdir: Path) -> tuple[RevocationStack, dict[str, Any]]:
    synthesized = RevocationStack(App(outdir=str(outdir)), stack.settings.stack_name, settings=stack.settings)
    return synthesized, Template.from_stack(synthesized).to_json()


def _local_queues(stack: LocalStack, synthesized: RevocationStack) -> dict[str, tuple[Any, str, str]]:
    """Each queue by the local stack's name for it: its construct, and its local ARN and URL."""
    queues, resources = synthesized.queues, stack.resources
    return {
        "queue": (queues.queue, resources.queue_arn, resources.queue_url),
        "urgent queue": (queues.urgent_queue, resources.urgent_queue_arn, resources.urgent_queue_url),
        "dead letter queue": (
            queues.dead_letter_queue,
            resources.dead_letter_queue_arn,
            resources.dead_letter_queue_url,
        ),
        "delivery dead letter queue": (
            queues.delivery_dead_letter_queue,
            resources.delivery_dead_letter_queue_arn,
            resources.delivery_dead_letter_queue_url,
        ),
    }


def _resolver(stack: LocalStack, synthesized: RevocationStack) -> Callable[[Any], Any]:
    """Resolves a template value to what it names on the local stack: a queue's Ref to its URL, its
    GetAtt Arn to its ARN, the pseudo parameters to the local stack's account and region."""
    local = _local_queues(stack, synthesized).values()
    urls = {synthesized.get_logical_id(queue.node.default_child): url for queue, _, url in local}
    arns = {synthesized.get_logical_id(queue.node.default_child): arn for queue, arn, _ in local}
    pseudo = {"AWS::Partition": "aws", "AWS::Region": stack.region, "AWS::AccountId": ACCOUNT_ID}

    def resolved(value: Any) -> Any:
        if isinstance(value, list):
            return [resolved(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return arns[logical_id]
        if "Ref" in value:
            return {**pseudo, **urls}[value["Ref"]]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(resolved(parts))
        return {key: resolved(item) for key, item in value.items()}

    return resolved


def _template_queues(stack: LocalStack, outdir: Path) -> dict[str, dict[str, Any]]:
    """The synthesized template's queue properties, by the local stack's name for each queue, with every
    reference resolved to what it names on the local stack."""
    synthesized, template = _template(stack, outdir)
    local = _local_queues(stack, synthesized)
    logical = {name: synthesized.get_logical_id(queue.node.default_child) for name, (queue, _, _) in local.items()}
    assert {rid for rid, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"} == set(logical.values())
    resolved = _resolver(stack, synthesized)
    return {name: resolved(template["Resources"][logical[name]]["Properties"]) for name in local}


def _attributes(stack: LocalStack, url: str) -> dict[str, Any]:
    attributes = dict(stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
    return {name: json.loads(value) if name in POLICY_ATTRIBUTES else value for name, value in attributes.items()}


def test_every_queue_has_the_synthesized_template_s_attributes(stack: LocalStack, tmp_path: Path) -> None:
    """The local stack provisions by hand what the CDK constructs declare: they must not drift apart."""
    resources = stack.resources
    template = _template_queues(stack, tmp_path)
    # What SQS sets where the template says nothing: a queue created without attributes.
    probe = stack.sqs.create_queue(QueueName=f"{stack.settings.stack_name}-defaults")["QueueUrl"]
    defaults = _attributes(stack, probe)
    local = {
        "queue": resources.queue_url,
        "urgent queue": resources.urgent_queue_url,
        "dead letter queue": resources.dead_letter_queue_url,
        "delivery dead letter queue": resources.delivery_dead_letter_queue_url,
    }
    for name, url in local.items():
        properties = template[name]
        expected = {
            attribute: _as_attribute(properties[attribute]) if attribute in properties else defaults.get(attribute)
            for attribute in CONTRACT_ATTRIBUTES
        }
        actual = _attributes(stack, url)
        assert {attribute: actual.get(attribute) for attribute in CONTRACT_ATTRIBUTES} == expected, name
    assert template["queue"]["QueueName"] == resources.queue_name
    assert template["urgent queue"]["QueueName"] == resources.urgent_queue_name


def test_every_rule_has_the_synthesized_template_s_event_pattern_and_target(stack: LocalStack, tmp_path: Path) -> None:
    """Which lane an event reaches is decided by the rules' patterns: the local ones are the template's."""
    synthesized, template = _template(stack, tmp_path)
    resources = stack.resources
    queue_logical_ids = {
        synthesized.get_logical_id(synthesized.queues.queue.node.default_child): resources.queue_arn,
        synthesized.get_logical_id(synthesized.queues.urgent_queue.node.default_child): resources.urgent_queue_arn,
    }
    declared = {}
    for rule in (r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"):
        (target,) = rule["Properties"]["Targets"]
        declared[queue_logical_ids[target["Arn"]["Fn::GetAtt"][0]]] = rule["Properties"]["EventPattern"]
    local = {}
    for rule_name in (resources.rule_name, resources.urgent_rule_name):
        rule = stack.events.describe_rule(Name=rule_name, EventBusName=resources.event_bus_name)
        (target,) = stack.events.list_targets_by_rule(Rule=rule_name, EventBusName=resources.event_bus_name)["Targets"]
        local[target["Arn"]] = json.loads(rule["EventPattern"])

    assert local == declared


def test_every_function_has_the_synthesized_template_s_environment(stack: LocalStack, tmp_path: Path) -> None:
    """Each lane's function gets what the stack sets it, references resolved to the local queues and
    region; the local stack adds only its endpoints and credentials."""
    synthesized, template = _template(stack, tmp_path)
    resolved = _resolver(stack, synthesized)
    functions = {names.LANE_BULK: synthesized.function, names.LANE_URGENT: synthesized.urgent_function}
    for lane, construct in functions.items():
        function = template["Resources"][synthesized.get_logical_id(construct.function.node.default_child)]
        declared = resolved(function["Properties"]["Environment"]["Variables"])
        local = stack.lane_environment(lane)
        assert {name: local.get(name) for name in declared} == declared, lane
        # Every channel of these tests is in the function's scope: the region, and the account of its ARN.
        assert local[names.ENV_IVS_REGIONS] == REGION == stack.region
        assert stack.runners[lane].function.arn.split(":")[4] == ACCOUNT_ID == channel().split(":")[4]


def _as_attribute(value: Any) -> Any:
    """A template property as GetQueueAttributes answers it: numbers and booleans as strings."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int) else value


def test_a_redrive_moves_function_written_dead_letters_back_with_a_task_naming_the_source_queue(
    stack: LocalStack,
) -> None:
    """The function writes its dead letters with SendMessage: a move task without a destination would
    fail with CouldNotDetermineMessageSource, as on AWS."""
    stack.send([pair("denied", 2, FORBIDDEN)])
    _, (first,) = drained(stack)

    result = stack.redrive_dead_letters(timeout=DRAIN_SECONDS)

    assert (result.method, result.moved) == ("StartMessageMoveTask", 1)
    (task,) = stack.sqs.list_message_move_tasks(SourceArn=stack.resources.dead_letter_queue_arn)["Results"]
    assert (task["Status"], task["DestinationArn"]) == ("COMPLETED", stack.resources.queue_arn)
    # Back in the queue, tried again, still denied: a new dead letter for the same pair.
    ledger, (second,) = drained(stack)
    assert second.message_id != first.message_id
    assert second.failed_pairs() == first.failed_pairs() == [(FORBIDDEN, "denied", "403", "not authorized")]
    assert ledger.pair_errors == {"403": 2}


def _event(detail: Any) -> dict[str, Any]:
    """An event as an EventBridge rule delivers it to SQS."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": ACCOUNT_ID,
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


SHAPES: dict[str, tuple[Any, list[dict[str, Any]]]] = {
    "one pair": (pair("solo", 7), [pair("solo", 7)]),
    "one pair, version omitted": (pair("no-version"), [pair("no-version", 0)]),
    "list of pairs (--viewer-sessions)": ([pair("l1", 1), pair("l2", 2)], [pair("l1", 1), pair("l2", 2)]),
    "API request (--cli-input-json)": (
        {"viewerSessions": [pair("r1", 3), pair("r2")]},
        [pair("r1", 3), pair("r2", 0)],
    ),
    "EventBridge event, detail a pair": (_event(pair("e1", 4)), [pair("e1", 4)]),
    "EventBridge event, detail a list": (_event([pair("e2"), pair("e3", 5)]), [pair("e2", 0), pair("e3", 5)]),
    "EventBridge event, detail a request": (_event({"viewerSessions": [pair("e4", 6)]}), [pair("e4", 6)]),
    "dead-letter message (redriven)": (
        {"viewerSessions": [pair("d1", 8)], "errors": [{**pair("d1"), "code": "500", "message": "internal"}]},
        [pair("d1", 8)],
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_accepted_body_shape_is_revoked(stack: LocalStack, shape: str) -> None:
    body, expected = SHAPES[shape]
    stack.send(body)

    ledger, dead_letters = drained(stack)

    assert dead_letters == []
    assert ledger.revoked == {
        (p["channelArn"], p["viewerId"]): p["viewerSessionVersionsLessThanOrEqualTo"] for p in expected
    }


def test_an_event_put_on_the_bus_reaches_the_function_through_the_rule(stack: LocalStack) -> None:
    stack.put_event({"viewerSessions": [pair("bus1", 2), pair("bus2", 3)]})
    stack.put_event(pair("ignored"), source="someone.else")

    ledger, dead_letters = drained(stack)

    assert dead_letters == []
    assert ledger.revoked == {(channel(), "bus1"): 2, (channel(), "bus2"): 3}


def test_the_aws_cli_example_ends_in_the_dlq_as_403_not_authorized(stack: LocalStack) -> None:
    (message_id,) = stack.send(CLI_EXAMPLE)

    ledger, dead_letters = drained(stack)

    assert ledger.revoked == {}
    assert ledger.pair_errors == {"403": 2}
    failed = [p for entry in dead_letters for p in entry.failed_pairs()]
    assert sorted(failed) == [
        (p["channelArn"], p["viewerId"], "403", "not authorized") for p in sorted(CLI_EXAMPLE, key=str)
    ]
    (entry,) = dead_letters
    assert entry.code == "403"
    assert entry.reason == "not authorized"
    assert entry.source_message_id == message_id
    assert entry.attempts == 1
    # Peeking leaves the DLQ as it was.
    assert [e.message_id for e in stack.dead_letters()] == [entry.message_id]


def test_unauthorized_pairs_are_dead_lettered_and_the_rest_of_the_message_revoked(stack: LocalStack) -> None:
    (message_id,) = stack.send([pair("ok1", 1), pair("no", 2, FORBIDDEN), pair("ok2", 3)])

    ledger, dead_letters = drained(stack)

    assert ledger.revoked == {(channel(), "ok1"): 1, (channel(), "ok2"): 3}
    (entry,) = dead_letters
    assert entry.attributes[ATTR_ERROR_CODE] == "403"
    assert entry.attributes[ATTR_SOURCE_MESSAGE_ID] == message_id
    assert entry.attributes[ATTR_ATTEMPTS] == "1"
    # The DLQ body is itself a valid request for the failed pairs, so that a redrive simply retries them.
    message = DeadLetterMessage.model_validate_json(entry.body)
    assert [s.to_api() for s in message.viewer_sessions] == [pair("no", 2, FORBIDDEN)]


def test_a_message_of_more_than_20_pairs_is_cut_into_calls_of_at_most_20(stack: LocalStack) -> None:
    sessions = [pair(f"viewer-{i:02d}", i, channel("Big")) for i in range(45)]
    stack.send({"viewerSessions": sessions})

    ledger, dead_letters = drained(stack)

    assert dead_letters == []
    assert ledger.revoked == {
        (s["channelArn"], s["viewerId"]): s["viewerSessionVersionsLessThanOrEqualTo"] for s in sessions
    }
    assert ledger.pairs_per_call == {5: 1, 20: 2}


def test_one_pair_records_are_merged_into_few_calls(stack: LocalStack) -> None:
    stack.stop_function()
    stack.send(*[pair(f"merge-{i:02d}") for i in range(60)])
    stack.start_function()

    ledger, dead_letters = drained(stack)

    assert dead_letters == []
    assert len(ledger.revoked) == 60
    # Batches of 20 records, one call each: 3 calls; never one call per record.
    assert ledger.calls_accepted <= 4, ledger.pairs_per_call


def test_duplicates_are_revoked_with_the_highest_version(stack: LocalStack) -> None:
    stack.stop_function()
    stack.send(pair("dup", 1), [pair("dup", 5), pair("dup", 5)], {"viewerSessions": [pair("dup", 3)]}, pair("dup", 5))
    stack.start_function()

    ledger, dead_letters = drained(stack)

    assert dead_letters == []
    assert ledger.revoked == {(channel(), "dup"): 5}
    # Within an invocation the pair is sent once, whatever the number of records that name it.
    assert sum(size * count for size, count in ledger.pairs_per_call.items()) <= stack.settings.max_concurrency


def test_pairs_outside_the_deployment_s_scope_are_dead_lettered_without_a_call(stack: LocalStack) -> None:
    """IVS_REGIONS and the runner's function ARN (its account) are the function's scope, as on AWS."""
    other_region = channel("Elsewhere", region="eu-west-1")
    other_account = channel().replace(f":{ACCOUNT_ID}:", ":210987654321:")
    stack.send([pair("in-scope", 1), pair("far", 2, other_region), pair("foreign", 3, other_account)])

    ledger, dead_letters = drained(stack)

    assert ledger.revoked == {(channel(), "in-scope"): 1}
    assert {call.region for call in ledger.accepted_calls} == {REGION}
    failed = {(arn, code) for entry in dead_letters for arn, _, code, _ in entry.failed_pairs()}
    assert failed == {(other_region, CODE_OUT_OF_SCOPE), (other_account, CODE_OUT_OF_SCOPE)}


# Each invalid body, and words its reason must contain: the field, and the limit where there is one.
INVALID: dict[str, tuple[str, tuple[str, ...]]] = {
    "not JSON": ('{"viewerSessions": [', ("JSON",)),
    "channel ARN of another service": (json.dumps(pair("x", 1, "arn:aws:s3:::bucket")), ("channelArn",)),
    "viewer ID of 41 characters": (json.dumps(pair("v" * 41)), ("viewerId", "40", "41")),
    "negative version": (json.dumps(pair("neg", -1)), ("viewerSessionVersionsLessThanOrEqualTo",)),
    "empty list": ("[]", ("1",)),
    "unknown shape": (json.dumps({"hello": "world"}), ("viewerSessions",)),
    "a bad item among good ones": (
        json.dumps({"viewerSessions": [pair("ok"), {"channelArn": channel(), "viewerId": ""}]}),
        ("viewerSessions[1].viewerId",),
    ),
}


def test_invalid_messages_go_to_the_dlq_at_once_with_a_reason_naming_the_field(stack: LocalStack) -> None:
    ids = stack.send(*[body for body, _ in INVALID.values()])
    by_id = dict(zip(ids, INVALID.items(), strict=True))

    ledger, dead_letters = drained(stack)

    assert ledger.calls_accepted == 0
    assert len(dead_letters) == len(INVALID)
    for entry in dead_letters:
        name, (body, words) = by_id[entry.source_message_id or ""]
        assert entry.code == CODE_INVALID_MESSAGE, name
        assert entry.body == body, name
        assert entry.attempts == 1, name
        for word in words:
            assert word in (entry.reason or ""), f"{name}: {entry.reason}"


def test_an_event_bus_of_its_own_routes_revocation_events_to_the_queue(moto_server: MotoServer) -> None:
    settings = fast_settings(createEventBus=True, eventBusName="revocations")
    with LocalStack(settings, moto=moto_server, handler=None) as stack:
        stack.put_event(pair("on-own-bus"))
        stack.put_event(pair("other"), detail_type="Something Else")
        messages = stack.sqs.receive_message(
            QueueUrl=stack.resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])

    assert stack.resources.event_bus_name == "revocations"
    (message,) = messages
    event = json.loads(message["Body"])
    assert event["source"] == EVENT_SOURCE
    assert event["detail-type"] == EVENT_DETAIL_TYPE
    assert event["detail"] == pair("on-own-bus")


def test_function_logs_are_written_per_instance(stack: LocalStack) -> None:
    # Two batches per poller, waiting when the pollers start together (after every instance's cold
    # start): each poller takes batches, so every instance runs and logs its invocations.
    settings = stack.settings
    log_dir = stack.log_dir
    assert log_dir is not None
    pattern = f"{instance_log_name(names.LANE_BULK)}-*.log"
    stack.stop_function()
    # The module's stack keeps its log files across tests: only what is written from here on counts.
    before = {log: log.stat().st_size for log in Path(log_dir).glob(pattern)}
    stack.send(*[pair(f"logged-{i:03d}") for i in range(2 * settings.max_concurrency * settings.batch_size)])
    stack.start_function()
    drained(stack)

    logs = sorted(Path(log_dir).glob(pattern))
    assert len(logs) == settings.max_concurrency
    written = {log.name: log.read_bytes()[before.get(log, 0) :].decode(errors="replace") for log in logs}
    assert {name: "REPORT RequestId" in text for name, text in written.items()} == {log.name: True for log in logs}

"""Stack outputs: stable names, each pointing at the resource it names."""

from __future__ import annotations

import pytest

from ivs_revocation import names
from ivs_revoke import targets
from tests.infra.support import Synthesized, get_att, ref

pytestmark = pytest.mark.infra


def _output(s: Synthesized, name: str) -> object:
    return s.json["Outputs"][name]["Value"]


def test_outputs_have_the_stable_names(each: Synthesized) -> None:
    assert set(each.json["Outputs"]) == {
        names.OUTPUT_QUEUE_URL,
        names.OUTPUT_QUEUE_ARN,
        names.OUTPUT_URGENT_QUEUE_URL,
        names.OUTPUT_URGENT_QUEUE_ARN,
        names.OUTPUT_DLQ_URL,
        names.OUTPUT_DLQ_ARN,
        names.OUTPUT_DELIVERY_DLQ_URL,
        names.OUTPUT_BUS_NAME,
        names.OUTPUT_FUNCTION_NAME,
        names.OUTPUT_URGENT_FUNCTION_NAME,
        names.OUTPUT_DASHBOARD_URL,
        names.OUTPUT_ALARM_TOPIC_ARN,
        names.OUTPUT_REVOKER_ROLE_ARN,
        names.OUTPUT_URGENT_REVOKER_ROLE_ARN,
        names.OUTPUT_OUTCOME_BUS_NAME,
    }


def test_queue_outputs_name_the_source_queue(each: Synthesized) -> None:
    queue_id = each.logical_id(each.stack.queues.queue)

    assert _output(each, names.OUTPUT_QUEUE_URL) == ref(queue_id)
    assert _output(each, names.OUTPUT_QUEUE_ARN) == get_att(queue_id)


def test_urgent_queue_outputs_name_the_queue_the_urgent_function_drains(each: Synthesized) -> None:
    queue_id = each.logical_id(each.stack.queues.urgent_queue)
    mapping = each.stack.urgent_function.event_source_mapping

    assert _output(each, names.OUTPUT_URGENT_QUEUE_URL) == ref(queue_id)
    assert _output(each, names.OUTPUT_URGENT_QUEUE_ARN) == get_att(queue_id)
    assert each.json["Resources"][each.stack.get_logical_id(mapping)]["Properties"]["EventSourceArn"] == get_att(
        queue_id
    )


def test_urgent_function_output_names_the_urgent_function(each: Synthesized) -> None:
    function_id = each.logical_id(each.stack.urgent_function.function)

    assert _output(each, names.OUTPUT_URGENT_FUNCTION_NAME) == ref(function_id)
    assert function_id != each.logical_id(each.stack.function.function)


def test_dead_letter_queue_outputs_name_the_redrive_target(each: Synthesized) -> None:
    source = each.json["Resources"][each.logical_id(each.stack.queues.queue)]["Properties"]
    dlq_id = source["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]

    assert _output(each, names.OUTPUT_DLQ_URL) == ref(dlq_id)
    assert _output(each, names.OUTPUT_DLQ_ARN) == get_att(dlq_id)


def test_queue_arn_outputs_name_both_ends_of_a_redrive(each: Synthesized) -> None:
    # A redrive names its destination: the queue QueueArn names, the one source the DLQ admits.
    resources = each.json["Resources"]
    source_arn, dlq_arn = _output(each, names.OUTPUT_QUEUE_ARN), _output(each, names.OUTPUT_DLQ_ARN)
    assert isinstance(source_arn, dict) and isinstance(dlq_arn, dict)
    source_id, dlq_id = source_arn["Fn::GetAtt"][0], dlq_arn["Fn::GetAtt"][0]

    allowed = resources[dlq_id]["Properties"]["RedriveAllowPolicy"]["sourceQueueArns"]

    assert resources[source_id]["Type"] == resources[dlq_id]["Type"] == "AWS::SQS::Queue"
    assert f":{resources[source_id]['Properties']['QueueName']}" in [arn["Fn::Join"][1][-1] for arn in allowed]
    assert resources[source_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == get_att(dlq_id)


def test_delivery_dead_letter_queue_output_names_the_rules_dead_letter_target(each: Synthesized) -> None:
    rules = each.resources("AWS::Events::Rule").values()
    delivery_dlq_ids = {rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] for rule in rules}

    (delivery_dlq_id,) = delivery_dlq_ids
    assert _output(each, names.OUTPUT_DELIVERY_DLQ_URL) == ref(delivery_dlq_id)


def test_bus_output_names_the_default_bus_by_default(default: Synthesized) -> None:
    assert _output(default, names.OUTPUT_BUS_NAME) == "default"


def test_bus_output_names_an_existing_bus(regional: Synthesized) -> None:
    assert _output(regional, names.OUTPUT_BUS_NAME) == "partner-bus"


def test_bus_output_names_the_bus_the_stack_creates(full: Synthesized) -> None:
    bus_id, _ = full.only("AWS::Events::EventBus")

    assert _output(full, names.OUTPUT_BUS_NAME) == ref(bus_id)


def test_function_output_names_the_function(each: Synthesized) -> None:
    assert _output(each, names.OUTPUT_FUNCTION_NAME) == ref(each.logical_id(each.stack.function.function))


def test_dashboard_url_output_opens_the_dashboard_in_the_stacks_region(each: Synthesized) -> None:
    dashboard_id, _ = each.only("AWS::CloudWatch::Dashboard")

    assert _output(each, names.OUTPUT_DASHBOARD_URL) == {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": "AWS::Region"},
                ".console.aws.amazon.com/cloudwatch/home?region=",
                {"Ref": "AWS::Region"},
                "#dashboards:name=",
                ref(dashboard_id),
            ],
        ]
    }


def test_alarm_topic_output_names_the_topic_the_alarms_notify(each: Synthesized) -> None:
    assert _output(each, names.OUTPUT_ALARM_TOPIC_ARN) == ref(each.only("AWS::SNS::Topic")[0])


def test_the_outputs_the_operators_cli_reads_are_the_template_s_and_name_what_it_uses_them_for(
    each: Synthesized,
) -> None:
    read = {
        targets.OUTPUT_QUEUE_URL,
        targets.OUTPUT_QUEUE_ARN,
        targets.OUTPUT_URGENT_QUEUE_URL,
        targets.OUTPUT_DLQ_URL,
        targets.OUTPUT_EVENT_BUS_NAME,
    }
    assert read <= set(each.json["Outputs"])
    queue_id = each.logical_id(each.stack.queues.queue)
    dlq_id = each.logical_id(each.stack.queues.dead_letter_queue)
    # submit sends to the queue URL; dlq redrive names the queue ARN as its destination.
    assert _output(each, targets.OUTPUT_QUEUE_URL) == ref(queue_id)
    assert _output(each, targets.OUTPUT_QUEUE_ARN) == get_att(queue_id)
    assert _output(each, targets.OUTPUT_DLQ_URL) == ref(dlq_id)
    assert _output(each, targets.OUTPUT_URGENT_QUEUE_URL) == ref(each.logical_id(each.stack.queues.urgent_queue))
    bus = _output(each, targets.OUTPUT_EVENT_BUS_NAME)
    buses = each.resources("AWS::Events::EventBus")
    assert bus == (ref(next(iter(buses))) if buses else each.settings.event_bus_name)

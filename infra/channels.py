"""The channel ARNs a revocation grant names, defined once for the function's role and the member role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack


def channel_arns(stack: Stack, regions: Sequence[str]) -> list[str]:
    """The stack's account's channels in `regions`, or in every region when none is named."""
    return [
        stack.format_arn(
            service="ivs",
            region=region,
            resource="channel",
            resource_name="*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for region in (regions or ["*"])
    ]

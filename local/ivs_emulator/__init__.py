"""Emulator of the IVS viewer-session revocation API, for the local stack, tests, demo and benchmarks.

It speaks AWS's rest-json protocol for ``POST /BatchStartViewerSessionRevocation`` and
``POST /StartViewerSessionRevocation``, so boto3 and the AWS CLI work against it unchanged with
``--endpoint-url`` / ``endpoint_url`` / ``AWS_ENDPOINT_URL_IVS``. It serves on 127.0.0.1 only.

Command line: ``python -m local.ivs_emulator`` (``--help`` lists the options, one per fault of `Faults`
too) prints its URL (``http://127.0.0.1:PORT``) as the first line of standard output and serves until
Ctrl-C or SIGTERM, then exits 0.

Python::

    from local.ivs_emulator import IvsEmulator

    with IvsEmulator(tps=2, unauthorized_channels=[arn], seed=1) as emu:
        client = boto3.client("ivs", region_name="us-west-2", endpoint_url=emu.url)
        ...
        emu.ledger().version(arn, viewer_id)   # highest version revoked, or None
        emu.set_faults(pair_error_rate=0.5)    # change faults at run time
        emu.clear_faults(); emu.reset()

``EmulatorControl(url)`` offers the same ``ledger()``, ``reset()``, ``faults()``, ``set_faults(**)`` and
``clear_faults()`` for an emulator in another process.

What it checks
    Every constraint of botocore's IVS model (required members, 1-20 sessions, string lengths, the
    channel ARN pattern as a full match, version >= 0), plus what the model leaves out: a version is a JSON
    integer (not bool, float or string) of at most 2147483647. Malformed JSON is a ValidationException.
    Members the model does not know are ignored. Unknown paths: 404 ``UnknownOperationException``.

Errors, as AWS sends them
    Status code, ``x-amzn-ErrorType: <Type>`` and body ``{"exceptionMessage": m, "message": m}``:
    botocore raises ``client.exceptions.<Type>`` and reads its message from ``message``.

Identity and quota
    Account and region come from the SigV4 ``Authorization`` header's credential scope
    (``Credential=AKID/date/REGION/ivs/aws4_request``); the access key id stands for the account and
    the signature is not checked. A missing header is 403 ``MissingAuthenticationTokenException``.
    The quota is a sliding one-second window per (account, region): at most ``tps`` admitted calls in
    any second (default 2), else 429 ``ThrottlingException``. A sliding window is the strictest reading
    of "2 TPS", so a client that passes here passes a token bucket of capacity >= tps too. Throttled
    calls do not take a place in the window; calls that fail validation do (throttling comes first, as
    at AWS's front door). ``--tps 0`` turns the quota off. StartViewerSessionRevocation has a window of
    its own, ``single_tps`` / ``--single-tps`` (default 10), as the quota table lists the two operations
    in separate rows; ``shared_quota`` / ``--shared-quota`` makes it draw from the batch operation's
    window instead, to see what would happen if AWS counted both in one bucket.

Per-pair results (batch operation)
    A channel in ``unauthorized_channels`` gets ``{"code": "403", "message": "not authorized"}``, as in
    the AWS CLI documentation example. With ``strict_region``, a channel ARN of another region than the
    signing region gets ``"404"`` (AWS's answer is not documented). The single operation turns these into
    call-level ``AccessDeniedException`` (403) / ``ResourceNotFoundException`` (404).

Faults (`Faults`, one line each in `FAULT_HELP`; seeded by ``seed``, one generator, so runs with
sequential clients repeat exactly)
    For the single operation, a per-pair error is a call-level ``InternalServerException``. A dropped
    call is not processed. ``malformed_answer`` applies to both operations: each kind is a 2xx that is
    not the operation's success but that a lax check would take for it (`MALFORMED_ANSWERS`, listed in
    ``--help``): ``html``, ``text``, ``empty`` (JSON's media type to a batch call, text/html to a single
    call, whose success is an empty body), ``errors-junk``, ``errors-not-objects``, ``message-object``
    (``{"message": "Forbidden"}``), ``errors-403`` (the batch shape; naming the pair of a single call),
    ``list`` (``[]``) and ``status-202`` (the success body under a 202). These are answered before the
    call is read, and revoke nothing, except where the answer names the call's pair: ``errors-403`` to a
    single call, and ``unknown-pair``, whose per-pair "500" names the (first) pair's viewer ID trimmed
    and lower-cased (or otherwise changed); a batch call is processed, that pair not revoked, a single
    call revokes nothing. Under ``trickle_ms`` a read timeout never fires; only a deadline for the
    whole call ends it. Order of checks: credentials, drop, injected throttle, quota, server error,
    malformed answer, validation, the malformed answers that name the pair, per pair.

HTTP control endpoints (under ``/_emulator/``, which no IVS operation path can start with)
    ``GET /_emulator/ledger``            the ledger as JSON (`Ledger.to_json`)
    ``POST /_emulator/reset``            clear ledger and quota windows, re-seed; faults stay
    ``GET /_emulator/faults``            the faults in force, e.g. ``{"pair_error_rate": 0.0, ...}``
    ``PUT|POST /_emulator/faults``       change the faults named in the JSON body, keep the others
    ``DELETE /_emulator/faults``         all faults off

Ledger (`Ledger`)
    ``revoked``: (channelArn, viewerId) -> highest version revoked; counts of calls accepted, throttled,
    rejected (validation) and denied (credentials, unauthorized single call); ``faults_injected`` by kind;
    ``pair_errors`` by code; ``throttled_by_operation``; ``accepted_calls`` (time, operation, account,
    region, pairs, and for a single call its ``channel_arn`` and ``viewer_id``), from which ``accepted_at``,
    ``single_call_at(arn, viewer)`` (when a pair's single call was accepted) and the ``pairs_per_call``
    histogram. A pair with a per-pair error is not revoked; a
    call with a call-level error revokes nothing. Its JSON has the same names, with ``revoked`` as a list
    of ``{"channelArn", "viewerId", "version"}`` and ``pairs_per_call`` keyed by size as a string.
"""

from local.ivs_emulator.server import EmulatorControl, IvsEmulator
from local.ivs_emulator.service import AcceptedCall, EmulatorConfigError, Faults, Ledger

__all__ = ["AcceptedCall", "EmulatorConfigError", "EmulatorControl", "Faults", "IvsEmulator", "Ledger"]

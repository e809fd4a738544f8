"""The IVS gateways: the only code that calls IVS. One client per region, made on first use.

`Boto3IvsGateway` calls BatchStartViewerSessionRevocation (the bulk lane), `Boto3IvsSingleGateway`
StartViewerSessionRevocation, one pair per call (the urgent lane); both are the RevocationGateway port.
Two rules that botocore does not keep are enforced here, and the operator CLI's `--direct` imports them
(with `call_failed`, which maps what a call raised to the domain's kinds):

- A call counts only when IVS's answer is the operation's (`check_answers`, `confirmed_errors`,
  `confirmed_single`). botocore turns a 200 whose body is HTML, plain text or nothing into a dict
  without `errors`, which would read as "every pair revoked"; and it crashes (AttributeError) on
  `{"errors": "junk"}`. The single operation's documented success is a 200 with an empty body; `{}`
  is taken too (its empty output's JSON); any other answer, a non-empty object included, is refused.
- A call has a deadline for all of it, connect, send and the whole answer (`call_within`). botocore's
  read timeout bounds each socket read, so an answer that trickles in never trips it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from ivs_revocation import names
from ivs_revocation.adapters import clients as aws_clients
from ivs_revocation.adapters.member_credentials import AssumeRoleFailed, MemberCredentials
from ivs_revocation.call_policy import call_error_kind, single_call_pair_code
from ivs_revocation.models import (
    CODE_CONNECTION_ERROR,
    MAX_SESSIONS_PER_CALL,
    CallErrorKind,
    CallFailed,
    IntegerTooLongError,
    RepeatedKeyError,
    RevocationError,
    ViewerSession,
    json_type,
    loads_unambiguous,
    viewer_reference,
)

OPERATION: Final = names.OPERATION_BATCH
SINGLE_OPERATION: Final = names.OPERATION_SINGLE
# The code of a call whose answer was not the operation's JSON (beside the service's own codes).
CODE_MALFORMED_RESPONSE: Final = "MalformedResponse"

# Put by the answer check into the parsed response (botocore merges a before-parse handler's
# `customized_response_dict` into it), so that a response that was never checked is never counted.
_CHECKED: Final = "_ivsRevocationAnswerChecked"
_HOOK_ID: Final = "ivs-revocation-answer-check"
_SHOWN_BODY_BYTES: Final = 40
_SHOWN_KEYS: Final = 3
_SHOWN_KEY_CHARACTERS: Final = 40

T = TypeVar("T")


class MalformedAnswer(Exception):
    """A 2xx answer that is not the operation's JSON, or that speaks of pairs not sent: nothing of it counts."""


class CallDeadlineExceeded(Exception):
    """No complete answer within the call's deadline; the call may or may not have reached IVS."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within the call's deadline of {seconds:g} s")
        self.seconds = seconds


# --- The answer -------------------------------------------------------------------------------


def answer_problem(status: int, content_type: str | None, body: bytes) -> str | None:
    """What is wrong with a 2xx answer of BatchStartViewerSessionRevocation, or None when it is the
    operation's success: a 200 (the only status the API reference documents for it) whose body is a
    JSON object with `errors` a list of objects with string `channelArn` and `viewerId` (and `code`,
    `message` strings when present), or exactly `{}` (the JSON of an output with no member set).
    An object with other members and no `errors` is refused: `{"message": "Forbidden"}` from a proxy
    confirms nothing. Members beside `errors` are let through, as the SDKs let new output members through."""
    if not body.strip():
        return f"{status} with an empty body"
    problem, value = _json_object(status, content_type, body)
    if problem is not None:
        return problem
    if status != 200:
        return f"{status} with the operation's JSON (the operation answers 200)"
    errors = value.get("errors")
    if errors is None:  # absent, or null as JSON protocols read it
        if value.keys() - {"errors"}:
            return f"{status} with a JSON object without errors (keys: {_shown_keys(value)})"
        return None
    if not isinstance(errors, list):
        return f"{status} whose errors is not a list (got {json_type(errors)})"
    for index, entry in enumerate(errors):
        if not isinstance(entry, dict):
            return f"{status} whose errors[{index}] is not an object (got {json_type(entry)})"
        for name in ("channelArn", "viewerId"):
            if not isinstance(entry.get(name), str):
                return f"{status} whose errors[{index}].{name} is not a string (got {json_type(entry.get(name))})"
        for name in ("code", "message"):
            if entry.get(name) is not None and not isinstance(entry[name], str):
                return f"{status} whose errors[{index}].{name} is not a string (got {json_type(entry[name])})"
    return None


def single_answer_problem(status: int, content_type: str | None, body: bytes) -> str | None:
    """What is wrong with a 2xx answer of StartViewerSessionRevocation, or None when it is the
    operation's success: a 200 with an empty body (as documented), or with exactly `{}` (the JSON of
    its empty output). A declared media type must be JSON either way. Any other object is refused,
    however it reads: `{"message": "Forbidden"}` from a proxy, or a batch-shaped `{"errors": [...]}`
    from a wrong endpoint, confirms nothing."""
    if not body.strip():
        media_type = _media_type(content_type)
        if status != 200:
            return f"{status} with an empty body (the operation answers 200)"
        if media_type and not _is_json(media_type):
            return f"{status} with an empty {media_type} body"
        return None
    problem, value = _json_object(status, content_type, body)
    if problem is not None:
        return problem
    if value:
        return (
            f"{status} with a JSON object that is not empty (keys: {_shown_keys(value)}); the operation answers nothing"
        )
    if status != 200:
        return f"{status} with an empty JSON object (the operation answers 200)"
    return None


def _shown_keys(value: dict[str, Any]) -> str:
    """The first keys of an answer's object: they say what it was (a proxy's message, a batch answer);
    their values are not shown."""
    keys = ", ".join(ascii(key[:_SHOWN_KEY_CHARACTERS]) for key in list(value)[:_SHOWN_KEYS])
    return keys + (", ..." if len(value) > _SHOWN_KEYS else "")


def _json_object(status: int, content_type: str | None, body: bytes) -> tuple[str | None, dict[str, Any]]:
    """(None, the object) when a non-empty answer is a JSON object, else (the problem, {})."""
    media_type = _media_type(content_type)
    # No content type at all is let through to the body check: the body is what the answer says.
    if media_type and not _is_json(media_type):
        return f"{status} with a {media_type} body", {}
    try:
        # The text botocore reads: strict UTF-8, as it decodes. json.loads of the bytes would detect a
        # byte order mark or UTF-16 and read errors that botocore never sees (every pair counted).
        value = loads_unambiguous(body.decode("utf-8"))
    except RepeatedKeyError as error:
        return f"{status} with an ambiguous JSON body ({error.describe()})", {}
    except IntegerTooLongError as error:
        return f"{status} with a JSON body holding an {error}", {}
    except json.JSONDecodeError as error:
        broken = f"{error.msg} at line {error.lineno} column {error.colno}"
        return f"{status} with a body that is not JSON: {_not_json(body, broken)}", {}
    except RecursionError:
        return f"{status} with a body that is not JSON: {_not_json(body, 'nested too deeply')}", {}
    except ValueError:  # UnicodeDecodeError
        return f"{status} with a body that is not JSON: {_not_json(body, 'not UTF-8 text')}", {}
    if not isinstance(value, dict):
        return f"{status} with a JSON {json_type(value)} body, not an object", {}
    return None, value


_PROBLEM_BY_OPERATION: Final[dict[str, Callable[[int, str | None, bytes], str | None]]] = {
    OPERATION: answer_problem,
    SINGLE_OPERATION: single_answer_problem,
}


def check_answers(client: Any) -> Any:
    """Makes `client` refuse, as MalformedAnswer, a 2xx answer of either revocation operation that is
    not that operation's answer.

    The check runs on `before-parse`, the one event that sees the raw answer (status, headers, body
    bytes) before botocore's parser: `after-call` and `response-received` come after it, and the
    parser itself raises AttributeError on `{"errors": "junk"}`. Returns the client.
    """
    for operation, problem_of in _PROBLEM_BY_OPERATION.items():
        client.meta.events.register(
            f"before-parse.ivs.{operation}", _answer_check(problem_of), unique_id=f"{_HOOK_ID}-{operation}"
        )
    return client


def _answer_check(problem_of: Callable[[int, str | None, bytes], str | None]) -> Callable[..., None]:
    def check(response_dict: Mapping[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
        status = int(response_dict["status_code"])
        if status >= 300:  # an error answer: botocore raises it as a ClientError
            return
        problem = problem_of(status, response_dict["headers"].get("content-type"), response_dict["body"] or b"")
        if problem is not None:
            raise MalformedAnswer(problem)
        customized_response_dict[_CHECKED] = True

    return check


def confirmed_single(response: dict[str, Any]) -> None:
    """Raises MalformedAnswer unless `check_answers` passed this answer (see `confirmed_errors`)."""
    _confirm_checked(response)


def _confirm_checked(response: dict[str, Any]) -> None:
    if not response.pop(_CHECKED, False):
        raise MalformedAnswer("the answer was not checked before botocore parsed it")


def confirmed_errors(response: dict[str, Any], sent: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """The per-pair errors of a response that `check_answers` passed and that names only pairs sent.

    Removes the check's mark from `response`. Raises MalformedAnswer for a response that was not
    checked (a client without `check_answers`, or a botocore without the `before-parse` event), and
    for an entry naming a pair that was not sent: the answer is inconsistent, so none of its pairs
    may count as revoked on its word (the entry may be about a pair sent, spelled otherwise).
    """
    _confirm_checked(response)
    errors: list[dict[str, Any]] = response.get("errors") or []
    keys = set(sent)
    for index, entry in enumerate(errors):
        if (entry["channelArn"], entry["viewerId"]) not in keys:
            # The viewer as a short hash: this reason reaches INFO logs and dead-letter attributes.
            raise MalformedAnswer(
                f"errors[{index}] names a pair that was not sent: "
                f"channelArn {entry['channelArn']!r}, viewerId {viewer_reference(entry['viewerId'])}"
            )
    return errors


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return (
        media_type == "application/json"
        or media_type.endswith("+json")
        or media_type.startswith("application/x-amz-json")
    )


def _not_json(body: bytes, problem: str) -> str:
    """The start of a body that is no JSON at all (HTML, text), else what is wrong with the JSON it
    began: a broken answer may name pairs, and a reason must not quote a viewer ID."""
    if body.lstrip()[:1] in (b"{", b"["):
        return problem
    return _start_of(body)


def _start_of(body: bytes) -> str:
    shown = body[:_SHOWN_BODY_BYTES].decode("utf-8", "replace")
    return ascii(shown) + ("..." if len(body) > _SHOWN_BODY_BYTES else "")


# --- The deadline -------------------------------------------------------------------------------


def call_within(seconds: float | None, call: Callable[[], T]) -> T:
    """`call()`, given at most `seconds` for all of it (None: no deadline); raises CallDeadlineExceeded.

    How: the call runs on a thread of its own, and we stop waiting for it at the deadline. The thread
    is abandoned, not stopped (Python cannot stop a thread); it ends when the answer completes or a
    socket timeout of its client fires, and its late answer is dropped. That is safe because revoking
    a pair again is harmless, and the pairs of a call given up on are retried. Chosen over a
    `before-send` hook that sends with urllib3 and reads against a deadline, which would reimplement
    botocore's HTTP sending (proxies, TLS, retries of a stale pooled connection) on its private parts:
    a thread depends on no botocore or urllib3 internals, so it holds on whatever versions Lambda's
    runtime ships. Exceptions of the call (Ctrl-C in tests included) are raised here.
    """
    if seconds is None:
        return call()
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # handed to the waiting thread, which raises it
            outcome.append((False, error))
        finally:
            done.set()

    # A daemon thread: an abandoned call must never keep the process from exiting.
    threading.Thread(target=run, name="ivs-call", daemon=True).start()
    if not done.wait(seconds):
        raise CallDeadlineExceeded(seconds)
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    result: T = value
    return result


# --- The gateway --------------------------------------------------------------------------------


class _RegionalClients:
    """IVS clients by region, each with the answer checks, made on first use."""

    def __init__(
        self,
        call_timeout_seconds: float,
        clients: dict[str, Any] | None = None,
        members: MemberCredentials | None = None,
    ) -> None:
        """`clients`: the own account's clients by region (made on first use when absent); `members`:
        the credentials of member accounts, whose calls go through clients signed with them."""
        self._call_timeout = call_timeout_seconds
        self._members = members
        # (account, region) -> (the access key it was made with, the client): remade when botocore
        # refreshed the account's credentials.
        self._member_clients: dict[tuple[str, str], tuple[str, Any]] = {}
        # botocore does not retry here: every attempt must pass the rate limiter and the time budget
        # (see revoke.py). The whole call is bounded by `call_within`; the socket timeouts, within it,
        # make a stalled connection fail on its own and end an abandoned call's thread.
        self._config = Config(
            connect_timeout=min(2.0, call_timeout_seconds / 2),
            read_timeout=call_timeout_seconds - min(2.0, call_timeout_seconds / 2),
            retries={"mode": "standard", "total_max_attempts": 1},
            tcp_keepalive=True,
        )
        self._clients: dict[str, Any] = clients if clients is not None else {}
        for client in self._clients.values():
            check_answers(client)

    def _client(self, region: str, sessions: Sequence[ViewerSession]) -> Any:
        """The client for a call of `sessions` (one account's, never mixed) in `region`, signed with that
        account's credentials. Raises AssumeRoleFailed for a member account whose role is refused."""
        accounts = {session.account for session in sessions}
        if len(accounts) != 1:
            raise ValueError(f"a call's pairs must share one account (got {len(accounts)})")
        (account,) = accounts
        return self._client_for(account, region)

    def warm(self, regions: Sequence[str]) -> threading.Thread:
        """Assumes each member account's role and makes its clients for `regions` on a thread of its own,
        so that the first call of an account does not pay for them within its limiter's timing (the
        limiter reads a slow call as one that may have arrived late, and spaces the next ones wider).
        A role refused here is held as the calls would hold it (member_credentials). Returns the thread."""

        def run() -> None:
            accounts = sorted(self._members.accounts) if self._members is not None else []
            for account in accounts:
                for region in regions:
                    with contextlib.suppress(Exception):  # the account's calls will meet it again
                        self._client_for(account, region)

        thread = threading.Thread(target=run, name="ivs-warm", daemon=True)
        thread.start()
        return thread

    def _client_for(self, account: str, region: str) -> Any:
        assumed = self._members.frozen(account, region) if self._members is not None else None
        if assumed is None:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = check_answers(aws_clients.client("ivs", region, config=self._config))
            return client
        made = self._member_clients.get((account, region))
        if made is None or made[0] != assumed.access_key:
            keys = aws_clients.Credentials(assumed.access_key, assumed.secret_key, assumed.token)
            client = check_answers(aws_clients.client("ivs", region, config=self._config, credentials=keys))
            made = self._member_clients[account, region] = (assumed.access_key, client)
        return made[1]


class Boto3IvsGateway(_RegionalClients):
    """BatchStartViewerSessionRevocation: up to MAX_SESSIONS_PER_CALL pairs a call."""

    operation: Final = OPERATION
    pairs_per_call: Final = MAX_SESSIONS_PER_CALL

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        viewer_sessions = [session.to_api() for session in sessions]
        try:
            client = self._client(region, sessions)
            response = call_within(
                self._call_timeout, lambda: client.batch_start_viewer_session_revocation(viewerSessions=viewer_sessions)
            )
            errors = confirmed_errors(response, (session.key for session in sessions))
        except Exception as error:
            raise call_failed(error) from error
        return [RevocationError.model_validate(entry, by_alias=True, by_name=False) for entry in errors]


class Boto3IvsSingleGateway(_RegionalClients):
    """StartViewerSessionRevocation: one pair a call, its call-level answers read as the batch's.

    The operation has no per-pair `errors`: an error about the pair's channel (not authorized for it,
    no such channel) is returned as that pair's per-pair error, with the code the batch operation
    would give it ("403", "404"), so that the outcome table treats both lanes' pairs alike. Every
    other error is the call's, classified by call_policy.
    """

    operation: Final = SINGLE_OPERATION
    pairs_per_call: Final = 1

    def revoke(self, region: str, sessions: Sequence[ViewerSession]) -> list[RevocationError]:
        if len(sessions) != 1:
            raise ValueError(f"{SINGLE_OPERATION} takes one pair per call (got {len(sessions)})")
        (session,) = sessions
        pair = session.to_api()
        try:
            client = self._client(region, sessions)
            response = call_within(self._call_timeout, lambda: client.start_viewer_session_revocation(**pair))
            confirmed_single(response)
        except ClientError as error:
            code, message, _ = _client_error(error)
            pair_code = single_call_pair_code(code)
            if pair_code is None:
                raise call_failed(error) from error
            return [
                RevocationError(
                    channel_arn=session.channel_arn, viewer_id=session.viewer_id, code=pair_code, message=message
                )
            ]
        except Exception as error:
            raise call_failed(error) from error
        return []


def _client_error(error: ClientError) -> tuple[str, str, int]:
    """The code, message and HTTP status of an error answer."""
    details = error.response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    # IVS puts its text in the body's `exceptionMessage`, which botocore parses as a modeled field,
    # not as Error.Message.
    message = str(details.get("Message") or error.response.get("exceptionMessage") or error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, message, status


def call_failed(error: Exception) -> CallFailed:
    """What a call raised, as the domain's CallFailed: botocore's errors mapped to the domain's kinds."""
    if isinstance(error, ClientError):
        code, message, status = _client_error(error)
        return CallFailed(call_error_kind(code, status), code, message)
    if isinstance(error, ParamValidationError):
        return CallFailed(CallErrorKind.INVALID, "ValidationException", str(error))
    if isinstance(error, AssumeRoleFailed):
        # The account's role is refused: not retried within this invocation (the Revoker fails the
        # account's other calls with it); SQS delivers the record again, and its last attempt
        # dead-letters STS's reason.
        return CallFailed(CallErrorKind.CREDENTIALS, error.code, error.message)
    if isinstance(error, MalformedAnswer):
        return CallFailed(CallErrorKind.MALFORMED, CODE_MALFORMED_RESPONSE, str(error))
    if isinstance(error, CallDeadlineExceeded | BotoCoreError):
        return CallFailed(CallErrorKind.CONNECTION, CODE_CONNECTION_ERROR, str(error))
    # Whatever else went wrong with the call, IVS confirmed nothing: retried, never counted.
    message = f"the answer could not be read: {type(error).__name__}: {error}"
    return CallFailed(CallErrorKind.MALFORMED, CODE_MALFORMED_RESPONSE, message)

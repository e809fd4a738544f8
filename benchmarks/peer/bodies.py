"""What both peers read of a message body: its viewer sessions, in the shapes producers send.

Written without the function's models, as a team would write it from the API's request shape: the
peers' processes, whose memory and CPU are measured, must not load the function's package.
"""

from __future__ import annotations

from typing import Any


def viewer_sessions(body: Any) -> list[dict[str, Any]]:
    """An event's detail, a `{"viewerSessions": [...]}` request, a list of sessions, or one session."""
    if isinstance(body, dict) and "detail-type" in body:
        body = body["detail"]
    if isinstance(body, dict) and "viewerSessions" in body:
        return list(body["viewerSessions"])
    if isinstance(body, list):
        return list(body)
    # One session; a `priority` beside its fields only routes.
    return [{key: value for key, value in body.items() if key != "priority"}] if isinstance(body, dict) else [body]

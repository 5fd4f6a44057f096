"""Schemathesis hooks for `make test-contract`, loaded with SCHEMATHESIS_HOOKS=contract_hooks.

One rule of POST /tasks (and of each member of POST /groups and /chains) cannot be written in JSON Schema: an `eta` or `expires` date-time must lie at
most ten years ahead of *now* (TimeBounds; a 422 naming the field otherwise, as openapi.yaml says).
Generated bodies with such a date are set aside here, so that the checks stay as strict as they are
for everything the schema can say. Nothing else is filtered.
"""
from datetime import datetime, timedelta, timezone

import schemathesis

TEN_YEARS = timedelta(days=10 * 365)


def _too_far(value):
    if not isinstance(value, str):
        return False
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    # A minute of margin either side of the server's own clock reading.
    return when - datetime.now(timezone.utc) > TEN_YEARS - timedelta(minutes=1)


def _has_far_date(task):
    return isinstance(task, dict) and (_too_far(task.get("eta")) or _too_far(task.get("expires")))


@schemathesis.hook
def filter_body(context, body):
    """POST /tasks bodies, and the members of POST /groups and POST /chains bodies, take the same rule."""
    if context.operation is None or not isinstance(body, dict):
        return True
    if context.operation.path == "/tasks":
        return not _has_far_date(body)
    if context.operation.path in ("/groups", "/chains") and isinstance(body.get("tasks"), list):
        return not any(_has_far_date(task) for task in body["tasks"])
    return True


# The time box: `GET /tasks/{id}?wait=S` may rightly hold a request for up to 60 s (a countdown task is
# not ready sooner), which would stretch this bounded run past a minute. Valid waits above 2 s are
# shortened to 2 s; invalid ones (negative, above 60, not numbers) go out unchanged to be refused.
@schemathesis.hook
def map_query(context, query):
    # GET /events streams until the client leaves: a valid (or absent) timeout becomes 1 s so each case
    # ends; invalid ones go out unchanged to be refused.
    if context.operation is not None and context.operation.path == "/events":
        query = dict(query or {})
        try:
            if "timeout" not in query or 1 <= float(query["timeout"]) <= 86400:
                query["timeout"] = 1
        except (TypeError, ValueError):
            pass
        return query
    if not query or "wait" not in query:
        return query
    try:
        seconds = float(query["wait"])
    except (TypeError, ValueError):
        return query
    if 2 < seconds <= 60:
        query["wait"] = 2
    return query

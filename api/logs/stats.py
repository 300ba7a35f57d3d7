"""/logs/stats: counts by level, kind and tool, in total and per time bucket, counted by the database."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import peewee

from api.errors import abort
from models import LogEntry, Tool, utcnow
from models.log_search import BUCKETS, bucket_expression

MAX_BUCKETS = 2000
DEFAULT_SPAN = timedelta(hours=24)


def log_stats(query: peewee.ModelSelect, args: dict) -> dict:
    until = args.get("until") or utcnow()
    since = args.get("since") or until - DEFAULT_SPAN
    bucket = args["bucket"]
    if (until - since).total_seconds() / BUCKETS[bucket] > MAX_BUCKETS:
        abort(422, message=f"more than {MAX_BUCKETS} buckets: take a larger bucket or a shorter range",
              errors={"bucket": ["too small for this range"]})
    query = query.where((LogEntry.created_at >= since) & (LogEntry.created_at < until))
    start = bucket_expression(bucket)
    grouped = (query.select(start.alias("bucket"), LogEntry.category, LogEntry.level, LogEntry.tool_id,
                            peewee.fn.COUNT(LogEntry.id).alias("n"))
               .group_by(start, LogEntry.category, LogEntry.level, LogEntry.tool_id).order_by(start).tuples())
    by_level, by_kind, by_tool = Counter(), Counter(), Counter()
    series: dict[str, dict] = {}
    for at, kind, level, tool_id, count in grouped:
        by_level[level] += count
        by_kind[kind] += count
        if tool_id is not None:
            by_tool[tool_id] += count
        point = series.setdefault(at, {"at": at + "+00:00", "total": 0, "by_level": Counter(), "by_kind": Counter()})
        point["total"] += count
        point["by_level"][level] += count
        point["by_kind"][kind] += count
    names = dict(Tool.select(Tool.id, Tool.name).where(Tool.id.in_(list(by_tool))).tuples()) if by_tool else {}
    return {"since": since, "until": until, "bucket": bucket, "total": sum(by_kind.values()),
            "by_level": dict(by_level), "by_kind": dict(by_kind),
            "by_tool": [{"tool_id": tool_id, "tool": names.get(tool_id), "count": count}
                        for tool_id, count in by_tool.most_common()],
            "series": [{**point, "by_level": dict(point["by_level"]), "by_kind": dict(point["by_kind"])}
                       for point in series.values()]}

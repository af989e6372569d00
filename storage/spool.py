"""The inbound spool: where a verified WeChat message waits while the database is down.

The webhook keeps every message in the database. When PostgreSQL cannot be reached, the
message (its decrypted XML, dedup key and arrival time) is appended here instead, and the
resident is told honestly that it is queued, not recorded. Two places, tried in order:

1. a Redis stream ``gridbot:spool`` (shared by every web process);
2. when Redis fails too, an append-only file ``<spool_dir>/inbound-<host>-<pid>.jsonl``
   (one JSON object a line, fsync'd before the reply).

``drain`` hands each waiting entry to a callback once the database is back and removes it
after the callback returns. Entries are processed at least once; the callback is idempotent
because ``InboundMessage.dedup_key`` is unique, so several processes may drain at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis as redis_lib
from redis.exceptions import RedisError

log = logging.getLogger("gridbot.spool")
STREAM = "gridbot:spool"


@dataclass(frozen=True)
class Spooled:
    """One waiting message: ``xml`` (plaintext WeChat XML), ``key`` (dedup key),
    ``received_at`` (aware UTC, ISO 8601)."""

    xml: str
    key: str
    received_at: str

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


class Spool:
    """Append to and drain the spool (Redis stream, then local files under ``directory``)."""

    def __init__(self, redis: redis_lib.Redis, directory: str | Path) -> None:
        self.redis = redis
        self.directory = Path(directory)
        self._file = self.directory / f"inbound-{socket.gethostname()}-{os.getpid()}.jsonl"

    def put(self, entry: Spooled) -> str | None:
        """Keep ``entry``; returns where ("redis" or "file"), or None when both failed."""
        fields = {"xml": entry.xml, "key": entry.key, "received_at": entry.received_at}
        try:
            self.redis.xadd(STREAM, fields)
            return "redis"
        except RedisError as exc:
            log.warning("spool: Redis unavailable (%s), writing %s to %s", exc, entry.key, self._file)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self._file, "a", encoding="utf-8") as f:
                f.write(json.dumps(fields, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            return "file"
        except OSError:
            log.exception("spool: could not keep %s anywhere", entry.key)
            return None

    def drain(self, handle: Callable[[Spooled], None], limit: int = 500) -> int:
        """Pass up to ``limit`` waiting entries to ``handle`` in arrival order, removing each
        after ``handle`` returns. Stops at the first exception ``handle`` raises (the database
        is still down: the entry stays) and re-raises it. Returns the number handled."""
        done = self._drain_files(handle, limit)
        try:
            entries = self.redis.xrange(STREAM, count=max(limit - done, 0)) if done < limit else []
        except RedisError as exc:
            log.warning("spool: cannot read the Redis stream: %s", exc)
            return done
        for entry_id, fields in entries:
            item = {k.decode(): v.decode() for k, v in fields.items()}
            handle(Spooled(item["xml"], item["key"], item["received_at"]))
            self.redis.xdel(STREAM, entry_id)
            done += 1
        return done

    def _files(self) -> list[Path]:
        """Spool files, and files a drainer that died was draining (handled again)."""
        if not self.directory.is_dir():
            return []
        orphans = [p for p in self.directory.glob("inbound-*.draining-*")
                   if not _alive(int(p.suffix.rsplit("-", 1)[-1]))]
        return sorted(self.directory.glob("inbound-*.jsonl")) + sorted(orphans)

    def _drain_files(self, handle: Callable[[Spooled], None], limit: int) -> int:
        """Files are drained whole: a file is claimed by renaming it, then removed when every
        line was handled (a crash in between handles its lines again: idempotent)."""
        done = 0
        for path in self._files():
            if done >= limit:
                break
            claimed = path.with_name(f"{path.name.split('.')[0]}.draining-{os.getpid()}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue  # another process took it
            lines = claimed.read_text(encoding="utf-8").splitlines()
            for n, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    handle(Spooled(item["xml"], item["key"], item["received_at"]))
                except (ValueError, KeyError):
                    log.error("spool: unreadable line %d of %s skipped", n + 1, path)
                except BaseException:
                    # Put the rest back; the webhook may have appended to ``path`` meanwhile.
                    with open(self._file, "a", encoding="utf-8") as f:
                        f.write("\n".join(lines[n:]) + "\n")
                        f.flush()
                        os.fsync(f.fileno())
                    claimed.unlink()
                    raise
                done += 1
            claimed.unlink()
        return done


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

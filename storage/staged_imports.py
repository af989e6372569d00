"""Import files checked in the staff console and waiting for 「确认导入」, kept in Redis.

A dry run stores the exact text it checked; the confirmation carries only the token, so
what is imported is what was checked (a re-uploaded or edited file is never trusted)::

    token = stage(redis, worker_id, name, text, allow_moves)     after a passing dry run
    upload = load(redis, worker_id, token)    -> StagedImport | None   (expired, other's)
    discard(redis, worker_id, token)                              once imported

The token is the SHA-256 (hex) of the file name, the options and the text; the key also
names the member of staff, so one person cannot apply another's check. ``load`` hashes
the stored record again and refuses one that does not match its token. Records expire
``TTL_S`` seconds after the check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

import redis as redis_lib

TTL_S = 30 * 60
"""How long a checked file waits for its confirmation (seconds)."""
KEY = "gridbot:console:import:{worker_id}:{token}"
_TOKEN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StagedImport:
    """A checked import file: its ``name`` (shown in problems and the report), ``text`` and
    whether moves were allowed when it was checked."""

    name: str
    text: str
    allow_moves: bool

    @property
    def token(self) -> str:
        """SHA-256 (hex) of name, options and text."""
        digest = hashlib.sha256()
        for part in (self.name, "1" if self.allow_moves else "0", self.text):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()


def stage(redis: redis_lib.Redis, worker_id: int, name: str, text: str, allow_moves: bool,
          ttl_s: int = TTL_S) -> str:
    """Keep the checked file for ``ttl_s`` seconds; returns its token."""
    upload = StagedImport(name, text, allow_moves)
    redis.set(KEY.format(worker_id=worker_id, token=upload.token),
              json.dumps({"name": name, "text": text, "allow_moves": allow_moves},
                         ensure_ascii=False), ex=ttl_s)
    return upload.token


def load(redis: redis_lib.Redis, worker_id: int, token: str) -> StagedImport | None:
    """The file ``worker_id`` checked under ``token``; None when there is none (expired,
    imported already, checked by someone else, a malformed token) or its content does not
    hash to the token."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    raw = redis.get(KEY.format(worker_id=worker_id, token=token))
    if raw is None:
        return None
    data = json.loads(raw)
    upload = StagedImport(str(data["name"]), str(data["text"]), bool(data["allow_moves"]))
    return upload if hmac.compare_digest(upload.token, token) else None


def discard(redis: redis_lib.Redis, worker_id: int, token: str) -> bool:
    """Forget a staged file (after its import); True when there was one."""
    if not _TOKEN.fullmatch(token or ""):
        return False
    return bool(redis.delete(KEY.format(worker_id=worker_id, token=token)))

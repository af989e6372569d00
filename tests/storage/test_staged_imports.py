"""Checked import files wait in Redis for their confirmation, under a token that is the
hash of exactly what was checked, for the member of staff who checked it."""

from __future__ import annotations

import json

from storage import staged_imports as staged

TEXT = "community: 阳光社区\ngrids: []\n"


def test_stage_and_load_round_trip(redis):
    token = staged.stage(redis, 7, "org.yaml", TEXT, allow_moves=True)
    assert len(token) == 64
    upload = staged.load(redis, 7, token)
    assert (upload.name, upload.text, upload.allow_moves) == ("org.yaml", TEXT, True)
    assert 0 < redis.ttl(staged.KEY.format(worker_id=7, token=token)) <= staged.TTL_S


def test_another_worker_or_token_finds_nothing(redis):
    token = staged.stage(redis, 7, "org.yaml", TEXT, allow_moves=False)
    assert staged.load(redis, 8, token) is None
    assert staged.load(redis, 7, "0" * 64) is None
    assert staged.load(redis, 7, "../" + token) is None
    other = staged.stage(redis, 7, "org.yaml", TEXT, allow_moves=True)
    assert other != token  # the options are part of what was checked


def test_a_tampered_record_is_refused(redis):
    token = staged.stage(redis, 7, "org.yaml", TEXT, allow_moves=False)
    key = staged.KEY.format(worker_id=7, token=token)
    redis.set(key, json.dumps({"name": "org.yaml", "text": TEXT + "x", "allow_moves": False}))
    assert staged.load(redis, 7, token) is None


def test_discard(redis):
    token = staged.stage(redis, 7, "org.yaml", TEXT, allow_moves=False)
    assert staged.discard(redis, 7, token) is True
    assert staged.load(redis, 7, token) is None
    assert staged.discard(redis, 7, token) is False

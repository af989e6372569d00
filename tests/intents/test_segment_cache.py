"""The tokenizer cache (intents/segment.py): a cached tokenizer cuts exactly like one built
from jieba's dictionary, a changed user dictionary gets its own cache, and a cache file
that others could have written is never loaded (a pickle runs code)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from intents.classify import DEFAULT_USERDICT
from intents.segment import Segmenter, _cache_path

TEXTS = ["楼道灯坏了", "3号楼2单元501厨房下水道堵了", "想借个梯子", "孩子想报名四点半课堂",
         "楼上天天半夜装修太吵了，物业也不管", "电梯又坏了困人了"]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIDBOT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cached_tokenizer_cuts_like_a_fresh_one(cache_dir: Path):
    built = Segmenter(DEFAULT_USERDICT)
    path = _cache_path(DEFAULT_USERDICT)
    assert path.parent == cache_dir and path.exists()
    assert cache_dir.stat().st_mode & 0o777 == 0o700

    cached = Segmenter(DEFAULT_USERDICT)

    assert cached.tokenizer.FREQ == built.tokenizer.FREQ
    assert cached.tokenizer.total == built.tokenizer.total
    for text in TEXTS:
        assert cached.cut(text) == built.cut(text)


def test_an_edited_user_dictionary_gets_its_own_cache(cache_dir: Path, tmp_path: Path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("楼道灯 20000 n\n", encoding="utf-8")
    first = _cache_path(userdict)
    Segmenter(userdict)
    userdict.write_text("楼道灯 20000 n\n飞线充电 20000 n\n", encoding="utf-8")

    assert _cache_path(userdict) != first
    assert "飞线充电" in Segmenter(userdict).cut("不要飞线充电")


def test_a_cache_writable_by_others_is_ignored(cache_dir: Path, tmp_path: Path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("楼道灯 20000 n\n", encoding="utf-8")
    Segmenter(userdict)
    path = _cache_path(userdict)
    path.write_bytes(pickle.dumps(({"楼": 1}, 1, {})))  # a valid but foreign state
    os.chmod(path, 0o666)  # anyone could have planted it

    segmenter = Segmenter(userdict)  # built afresh, no error

    assert segmenter.cut("楼道灯坏了")[0] == "楼道灯"
    assert path.stat().st_mode & 0o077 == 0  # replaced by a private file


def test_a_private_cache_is_what_gets_loaded(cache_dir: Path, tmp_path: Path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("楼道灯 20000 n\n", encoding="utf-8")
    Segmenter(userdict)
    path = _cache_path(userdict)
    path.write_bytes(pickle.dumps(({"楼": 1, "楼道": 0, "楼道灯坏": 5}, 6, {})))
    os.chmod(path, 0o600)

    assert Segmenter(userdict).tokenizer.total == 6  # the test above is not vacuous


def test_a_damaged_cache_is_rebuilt(cache_dir: Path, tmp_path: Path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("楼道灯 20000 n\n", encoding="utf-8")
    Segmenter(userdict)
    path = _cache_path(userdict)
    path.write_bytes(path.read_bytes()[:1000])  # truncated

    assert Segmenter(userdict).cut("楼道灯坏了")[0] == "楼道灯"

"""The urge/referral/chitchat/thanks handlers with the intent forced (over the webhook), so
they are checked whatever the lexicon makes of the wording; tests/handlers/
test_urge_referral_chitchat.py drives the same handlers with real classification."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.messages import msg

FORCED = {"报修好几天了怎么还没人来": "urge", "房产证什么时候能办下来": "referral",
          "你会唱歌吗": "chitchat", "谢谢": "thanks"}


@pytest.fixture
def forced(chat, classifier, monkeypatch):
    """``chat`` whose classifier answers FORCED's intent for FORCED's texts."""
    real = type(classifier).classify

    def classify(self, text, *args, **kwargs):
        understood = real(self, text, *args, **kwargs)
        if text in FORCED:
            return replace(understood, intent=FORCED[text], confidence=1.0, category=None)
        return understood

    monkeypatch.setattr(type(classifier), "classify", classify)
    return chat


def test_forced_urge_attaches_and_never_opens_a_ticket(forced):
    assert forced.say("f1", "报修好几天了怎么还没人来") == msg("urge.none")
    forced.say("f1", "3号楼2单元501，楼道灯坏了")
    reply = forced.say("f1", "报修好几天了怎么还没人来")
    no = forced.tickets()[0].number
    assert no in reply and len(forced.tickets()) == 1
    assert [p.event for p in forced.pushes("worker-g1")].count("ticket_urged") == 1


def test_forced_referral_chitchat_thanks(forced):
    assert "不动产登记中心" in forced.say("f2", "房产证什么时候能办下来")
    assert forced.say("f2", "你会唱歌吗") == msg("chitchat.reply")
    assert forced.say("f2", "谢谢") == msg("chitchat.thanks")
    assert forced.tickets() == []

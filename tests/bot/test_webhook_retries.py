"""WeChat retries a delivery up to three times: same reply, nothing made twice — also when
the retries race on two app instances, and when Redis lost the de-duplication keys."""

from __future__ import annotations

import threading


def test_retry_gets_same_reply_and_one_ticket(chat):
    first = chat.say("r-retry", "3号楼2单元501，楼道灯坏了")
    assert "GD20261122-0001" in first
    assert chat.retry_last() == first
    assert chat.retry_last() == first
    assert len(chat.tickets()) == 1
    assert len(chat.pushes("worker-g1")) == 1


def test_event_retry_is_deduplicated_by_sender_and_create_time(chat):
    d = chat.sim.event("r-evt", "subscribe")
    first = chat.send(d)
    assert "欢迎" in first
    assert chat.send(chat.sim.retry(d)) == first


def test_retries_racing_on_two_app_instances_make_one_ticket(make_chat):
    a, b = make_chat(), make_chat()
    delivery = a.sim.text("r-race", "5号楼1单元101，厨房下水道堵了")
    retries = [delivery] + [a.sim.retry(delivery) for _ in range(3)]
    replies: list[str] = []
    barrier = threading.Barrier(len(retries))

    def send(i: int) -> None:
        chat = (a, b)[i % 2]
        barrier.wait()
        response = chat.post(retries[i])
        assert response.status_code == 200
        replies.append(chat.sim.reply_text(response.content))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(retries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(a.tickets()) == 1
    ticket = a.tickets()[0]
    assert len(a.pushes("worker-g2")) == 1
    # every delivery that got an answer got the same one (a retry may answer empty only if
    # the first had not finished within WeChat's window)
    answered = [r for r in replies if r]
    assert answered and all(r == answered[0] for r in answered)
    assert ticket.number in answered[0]


def test_flushed_redis_still_makes_no_second_ticket(chat, flush_redis):
    first = chat.say("r-flush", "3号楼2单元501，楼道灯坏了")
    flush_redis()
    assert chat.retry_last() == first
    assert len(chat.tickets()) == 1

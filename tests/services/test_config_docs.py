"""Staff-edited SLA policies and lexicon (services.config_docs): validation, saving, trying
a message on a draft, live pick-up by the webhook, reset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intents.lexicon import DEFAULT_LEXICON
from services import config_docs as docs
from services.config_docs import ConfigInvalid, LiveConfig
from services.errors import NotFound, WrongState
from storage import sla
from storage.accounts import AuditEntry, ConfigDocument
from storage.models import GridWorker, Ticket
from storage.times import as_utc
from tests.chat import START

REPAIR = docs.LEXICON + "repair"
SWING = "3号楼2单元501 秋千"


@pytest.fixture(autouse=True)
def _packaged_sla():
    """A saved SLA document is process-wide (storage.sla); every test ends on the file."""
    yield
    sla.use_text(None)


def repair_with_swing(session: Session) -> str:
    """The repair tables with 「秋千」 added to the 公共设施 category."""
    text = docs.get(session, REPAIR).text
    header = '[intents.repair.categories."公共设施"]\n'
    assert header in text
    return text.replace(header, header + '"秋千" = 4\n')


def fast_sla(session: Session) -> str:
    """The SLA file with round-the-clock responses and 15 minutes for 物业报修."""
    text = docs.get(session, docs.SLA).text
    text = text.replace('response_calendar = "office" #', 'response_calendar = "24x7" #')
    old = 'name = "物业报修"\nkind = "repair"\n'
    assert old in text
    return text.replace(old, old + "response_minutes = 15\n")


def test_documents_start_as_the_packaged_files(session: Session) -> None:
    doc = docs.get(session, docs.SLA)
    assert not doc.overridden and doc.text == sla.POLICY_FILE.read_text(encoding="utf-8")
    repair = docs.get(session, REPAIR)
    assert repair.text.startswith("[intents.repair.keywords]")
    assert '"公共设施"' in repair.text and "[intents.complaint" not in repair.text
    with pytest.raises(NotFound):
        docs.get(session, "lexicon:nonsense")


def test_invalid_toml_is_refused_with_line_and_column(session: Session) -> None:
    bad = docs.get(session, docs.SLA).text.replace("warn_at = 0.8", "warn_at = = 0.8")
    with pytest.raises(ConfigInvalid) as err:
        docs.save(session, docs.SLA, bad, None, START)
    line = bad.splitlines().index(next(x for x in bad.splitlines() if "warn_at = =" in x)) + 1
    assert err.value.line == line and err.value.column is not None
    assert "TOML" in err.value.detail
    assert session.get(ConfigDocument, docs.SLA) is None


def test_invalid_policy_is_refused_with_the_loaders_message(session: Session) -> None:
    bad = docs.get(session, docs.SLA).text.replace('category = "电梯"', 'category = "飞碟"')
    with pytest.raises(ConfigInvalid) as err:
        docs.save(session, docs.SLA, bad, None, START)
    assert "飞碟" in err.value.detail


def test_lexicon_errors_name_the_line_of_the_edited_part(session: Session) -> None:
    text = '[intents.repair.keywords]\n"报修" = 3\n"噪音" = 2\n'
    with pytest.raises(ConfigInvalid) as err:
        docs.save(session, REPAIR, text, None, START)
    # 噪音 is a complaint keyword of the packaged lexicon: a duplicate, named where it is
    assert err.value.source == REPAIR and err.value.line == 3
    assert "噪音" in err.value.detail and "lexicon.toml" in err.value.detail
    with pytest.raises(ConfigInvalid) as err:
        docs.save(session, REPAIR, '[intents.repair.keywords]\n"报修 = 3\n', None, START)
    assert err.value.line == 2 and err.value.column is not None
    with pytest.raises(ConfigInvalid) as err:
        docs.save(session, REPAIR, '[intents.complaint.keywords]\n"秋千" = 3\n', None, START)
    assert "intents.complaint" in err.value.detail
    assert session.exec(select(ConfigDocument)).all() == []


def test_removing_a_category_others_refer_to_is_refused(session: Session) -> None:
    name = docs.LEXICON + "complaint"
    text = docs.get(session, name).text
    start = text.index('[intents.complaint.categories."物业服务"]')
    end = text.index("[intents.complaint.categories.", start + 1)
    with pytest.raises(ConfigInvalid) as err:  # [[combos]] and [yields] name 物业服务
        docs.save(session, name, text[:start] + text[end:], None, START)
    assert err.value.source == "lexicon.toml" and err.value.line is not None
    assert err.value.name == name and "物业服务" in err.value.detail


def test_an_edited_keyword_changes_the_try_result(session: Session, classifier) -> None:
    before = docs.try_message(session, classifier, SWING, START)
    assert before.understanding.intent != "repair" and before.kind is None
    draft = repair_with_swing(session)
    after = docs.try_message(session, classifier, SWING, START, drafts={REPAIR: draft})
    assert (after.understanding.intent, after.understanding.category) == ("repair", "公共设施")
    assert after.kind == "repair" and after.policy == "物业报修" and after.label == "报修"
    assert after.response_due_at is not None and after.promise
    # a draft is not saved
    assert session.get(ConfigDocument, REPAIR) is None
    with pytest.raises(ConfigInvalid):
        docs.try_message(session, classifier, SWING, START, drafts={REPAIR: "[x"})


def test_try_shows_the_sla_of_a_draft(session: Session, classifier) -> None:
    text = "3号楼2单元501 楼道灯坏了"
    packaged = docs.try_message(session, classifier, text, START)
    drafted = docs.try_message(session, classifier, text, START, drafts={docs.SLA: fast_sla(session)})
    assert packaged.policy == drafted.policy == "物业报修"
    assert as_utc(drafted.response_due_at) == START + timedelta(minutes=15)
    assert as_utc(packaged.response_due_at) > START + timedelta(hours=12)  # Sunday: Monday 09:30


def test_save_counts_versions_and_refuses_a_stale_edit(session: Session, community) -> None:
    worker = session.exec(select(GridWorker).where(GridWorker.openid == "admin-1")).one()
    row = docs.save(session, REPAIR, repair_with_swing(session), worker, START, expected_version=0)
    assert row.version == 1
    doc = docs.get(session, REPAIR)
    assert doc.overridden and doc.version == 1 and doc.updated_by == worker.name
    with pytest.raises(WrongState):
        docs.save(session, REPAIR, doc.text, worker, START, expected_version=0)
    assert docs.save(session, REPAIR, doc.text, worker, START, expected_version=1).version == 2
    # the door audits each save; after a reset the next save continues the count
    session.add(AuditEntry(at=START, worker_id=worker.id, action="config.save",
                           target_kind=docs.AUDIT_KIND, target_id=REPAIR,
                           detail=docs.audit_detail(session.get(ConfigDocument, REPAIR))))
    assert docs.reset(session, REPAIR) is not None
    assert not docs.get(session, REPAIR).overridden
    assert docs.save(session, REPAIR, doc.text, worker, START).version == 3
    [revision] = docs.history(session, REPAIR)
    assert (revision.version, revision.by, revision.text) == (2, worker.name, doc.text)


def test_saved_lexicon_routes_a_webhook_message_live(session: Session, make_chat) -> None:
    chat = make_chat(config_reload_s=0)
    assert not chat.tickets()
    chat.say("r-before", SWING)
    assert not chat.tickets()  # 秋千 means nothing yet
    docs.save(session, REPAIR, repair_with_swing(session), None, START)
    session.commit()
    chat.say("r-swing", SWING)  # the running app picks the saved lexicon up
    [ticket] = chat.tickets()
    assert (ticket.kind, ticket.category) == ("repair", "公共设施")
    docs.reset(session, REPAIR)
    session.commit()
    chat.say("r-after", SWING)
    assert len(chat.tickets()) == 1  # reset: the packaged lexicon again


def test_saved_sla_changes_a_new_tickets_due_time_and_reset_restores(
        session: Session, make_chat) -> None:
    chat = make_chat(config_reload_s=0)
    chat.say("r-1", "3号楼2单元501 楼道灯坏了")
    packaged_due = as_utc(chat.tickets()[-1].response_due_at)
    assert packaged_due > START + timedelta(hours=12)
    docs.save(session, docs.SLA, fast_sla(session), None, START)
    session.commit()
    chat.say("r-2", "5号楼2单元502 楼道灯坏了")
    assert len(chat.tickets()) == 2
    assert as_utc(chat.tickets()[-1].response_due_at) == START + timedelta(minutes=15)
    docs.reset(session, docs.SLA)
    session.commit()
    chat.say("r-3", "7号楼2单元503 楼道灯坏了")
    assert len(chat.tickets()) == 3
    assert as_utc(chat.tickets()[-1].response_due_at) == packaged_due


def test_live_config_looks_at_most_every_n_seconds(session: Session, classifier) -> None:
    now = [100.0]
    live = LiveConfig(classifier, every_s=5, monotonic=lambda: now[0])
    engine = session.get_bind()
    assert live.refresh(engine) is classifier
    docs.save(session, REPAIR, repair_with_swing(session), None, START)
    docs.save(session, docs.SLA, fast_sla(session), None, START)
    session.commit()
    now[0] += 1
    assert live.refresh(engine) is classifier and not sla.overridden()  # not due yet
    now[0] += 5
    fresh = live.refresh(engine)
    assert fresh is not classifier and fresh.classify(SWING).category == "公共设施"
    assert sla.overridden() and sla.load().policy_named("物业报修").response_s == 15 * 60
    ticket = Ticket(number="-", kind="repair", category="楼道灯", created_at=START)
    sla.start_clocks(ticket, START)
    assert ticket.response_due_at == START + timedelta(minutes=15)
    docs.reset(session, docs.SLA)
    docs.reset(session, REPAIR)
    session.commit()
    assert live.refresh(engine, force=True) is classifier and not sla.overridden()


def test_the_lexicon_part_of_every_intent_round_trips(session: Session) -> None:
    """Saving each intent's packaged part unchanged is accepted and changes nothing."""
    from intents import overlay

    base = DEFAULT_LEXICON.read_text(encoding="utf-8")
    parts = {docs.intent_of(n): docs.get(session, n).text for n in docs.NAMES if n != docs.SLA}
    assert overlay.overlay(base, parts).text == base


def test_try_an_emergency_shows_the_urgent_policy(session: Session, classifier) -> None:
    trial = docs.try_message(session, classifier, "3号楼电梯里有人被困出不来了", START)
    assert trial.understanding.urgent and trial.understanding.emergency is not None
    assert trial.policy == "紧急险情"
    assert as_utc(trial.response_due_at) == START + timedelta(minutes=10)


def test_who_may_configure(session: Session, community) -> None:
    from storage.models import Community, Role

    admin = session.exec(select(GridWorker).where(GridWorker.openid == "admin-1")).one()
    worker = session.exec(select(GridWorker).where(GridWorker.openid == "worker-g1")).one()
    street = GridWorker(openid="street-1", name="街道管理员", role=Role.STREET_ADMIN)
    session.add(street)
    session.flush()
    for name in (docs.SLA, REPAIR):
        assert docs.may_configure(session, street, name)
        assert docs.may_configure(session, admin, name)  # the account's only community
        assert not docs.may_configure(session, worker, name)
    first = session.exec(select(Community)).one()
    session.add(Community(street_id=first.street_id, name="阳光社区"))
    session.flush()
    assert not docs.may_configure(session, admin, REPAIR)  # account-wide: the street's now
    assert docs.may_configure(session, street, REPAIR)
    with pytest.raises(NotFound):
        docs.may_configure(session, street, "lexicon:nonsense")


def test_the_worker_applies_saved_sla_before_a_job(session: Session) -> None:
    import asyncio

    from bot.worker import WorkerSettings, job_start

    assert WorkerSettings.on_job_start is job_start
    ctx = {"live_config": LiveConfig(None, every_s=0), "engine": session.get_bind()}
    asyncio.run(job_start(ctx))
    assert not sla.overridden()
    docs.save(session, docs.SLA, fast_sla(session), None, START)
    session.commit()
    asyncio.run(job_start(ctx))
    assert sla.load().policy_named("物业报修").response_s == 15 * 60

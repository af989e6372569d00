"""Staff-edited configuration: the SLA policies and the intent lexicon, saved in the database
(``storage.accounts.ConfigDocument``) over the packaged files, picked up live by every process.

Documents (``NAMES``):

- ``"sla"``: the whole SLA policy TOML (the format of handlers/sla.toml); it overrides the
  policy file in use (GRIDBOT_SLA_FILE or the packaged one).
- ``"lexicon:<intent>"``: that intent's tables of the lexicon (``[intents.<intent>.keywords]``
  and its ``[intents.<intent>.categories."…"]``), laid over the packaged lexicon.toml
  (``intents.overlay``). The rest of the lexicon (typos, exact forms, combos, yields, slots)
  and the emergency rules stay in the package.

Saving validates with the loaders start-up uses (``storage.sla.parse_text``,
``intents.overlay.load_overlay`` — the whole lexicon with every saved intent laid over it)
and refuses a bad text with ``ConfigInvalid`` naming the line (and the column of a TOML
syntax error). The version counts saves and never goes back after a reset; the previous
texts live in the audit log (the door audits ``audit_detail``; ``history`` reads it).

Live reload: ``LiveConfig`` (one per process: the web app, the worker) compares the
(name, version, updated_at, text) of the saved documents with what it applied, at most every
``every_s`` seconds, and rebuilds the SLA policies (``storage.sla.use_text``) and the
classifier (the packaged lexicon + saved intents, on the process's jieba segmenter) when
they differ. A save is therefore live in every process within ``every_s`` seconds, in the
saving process at once (``refresh(force=True)``).

``try_message`` runs the classifier built from a draft (unsaved texts allowed) and tells
what the bot would do: intent, category, confidence, slots, emergency, and for a ticket the
SLA policy and the promised times.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from intents import overlay
from intents.classify import Classifier, Understanding
from intents.errors import LexiconError
from intents.lexicon import CATEGORY_INTENTS, DEFAULT_LEXICON, INTENTS, Lexicon
from services import promise
from services.errors import Invalid, NotAllowed, NotFound, WrongState
from services.permissions import may
from storage import sla
from storage.accounts import AuditEntry, ConfigDocument
from storage.models import Community, GridWorker, Role, Ticket, TicketStatus
from storage.times import as_utc

log = logging.getLogger("gridbot.config")

SLA = "sla"
LEXICON = "lexicon:"
NAMES: tuple[str, ...] = (SLA, *(LEXICON + intent for intent in INTENTS))
"""Every document staff may edit."""
AUDIT_KIND = "config"
"""``AuditEntry.target_kind`` of saves and resets (``target_id`` is the document name)."""
RELOAD_EVERY_S = 5.0
"""How often (seconds) a process looks for saved documents by default."""


class ConfigInvalid(Invalid):
    """A document text the loader refuses. ``name`` is the document, ``line`` the 1-based
    line of the text the person edited (None: not tied to a line; see ``source``),
    ``column`` the column of a TOML syntax error, ``detail`` the loader's message and
    ``source`` what the line refers to (the document name, or "lexicon.toml" for the
    packaged part of the lexicon that the edit broke, e.g. a yield naming a removed
    category)."""

    def __init__(self, name: str, detail: str, line: int | None = None,
                 column: int | None = None, source: str | None = None) -> None:
        self.name = name
        self.detail = detail
        self.line = line
        self.column = column
        self.source = source or name
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {detail}")


@dataclass(frozen=True)
class Document:
    """What the editor shows: ``text`` in use (the saved override, else the packaged
    default), ``default_text``, and for a saved override its ``version``, ``updated_at``
    (aware UTC) and ``updated_by`` (the staff member's name, or None)."""

    name: str
    text: str
    default_text: str
    version: int | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def overridden(self) -> bool:
        """True when a saved text overrides the packaged default."""
        return self.version is not None


@dataclass(frozen=True)
class Revision:
    """One save or reset of a document, from the audit log: ``action`` "config.save" or
    "config.reset", ``version`` saved (or reset from), ``at`` aware UTC, ``by`` a name, and
    the ``text`` saved (None for a reset)."""

    action: str
    version: int | None
    at: datetime
    by: str | None
    text: str | None


def check_name(name: str) -> str:
    """``name`` when it is one of ``NAMES``. Raises NotFound."""
    if name not in NAMES:
        raise NotFound(f"no configuration document {name!r}")
    return name


def capability_of(name: str) -> str:
    """The console capability editing ``name`` needs: "configure_sla" or
    "configure_lexicon". Raises NotFound."""
    return "configure_sla" if check_name(name) == SLA else "configure_lexicon"


def may_configure(session: Session, worker: GridWorker | None, name: str) -> bool:
    """Whether ``worker`` may edit ``name``. The SLA policies and the lexicon are
    account-wide: a street admin's (``services.permissions``), and a community admin's when
    the account has only that one community. Raises NotFound for an unknown name."""
    if may(session, worker, capability_of(name)):
        return True
    if worker is None or not worker.active or worker.role != Role.COMMUNITY_ADMIN:
        return False
    ids = session.exec(select(Community.id).limit(2)).all()
    return len(ids) == 1 and worker.community_id == ids[0]


def require_configure(session: Session, worker: GridWorker | None, name: str) -> None:
    """``may_configure`` or raise NotAllowed (NotFound for an unknown name)."""
    if not may_configure(session, worker, name):
        raise NotAllowed(capability_of(name))


def intent_of(name: str) -> str | None:
    """The intent of a "lexicon:<intent>" name, else None."""
    return name[len(LEXICON):] if name.startswith(LEXICON) else None


def default_text(name: str, lexicon_path: Path = DEFAULT_LEXICON) -> str:
    """The packaged text of ``name``: the policy file in use, or the intent's tables of the
    lexicon file. Raises NotFound, OSError."""
    check_name(name)
    if name == SLA:
        return sla.file_in_use().read_text(encoding="utf-8")
    return overlay.section(lexicon_path.read_text(encoding="utf-8"), intent_of(name) or "")


def _as_utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else as_utc(dt)


def get(session: Session, name: str, lexicon_path: Path = DEFAULT_LEXICON) -> Document:
    """The document ``name`` as the editor shows it. Raises NotFound."""
    default = default_text(name, lexicon_path)
    row = session.get(ConfigDocument, name)
    if row is None:
        return Document(name, default, default)
    by = session.get(GridWorker, row.updated_by_id) if row.updated_by_id else None
    return Document(name, row.text, default, row.version, _as_utc(row.updated_at),
                    by.name if by else None)


def saved(session: Session) -> dict[str, str]:
    """Every saved document: name → text."""
    return {row.name: row.text for row in session.exec(select(ConfigDocument)).all()}


def lexicon_parts(texts: dict[str, str]) -> dict[str, str]:
    """The lexicon documents of ``texts`` (name → text) as intent → text."""
    return {intent_of(n): t for n, t in texts.items() if intent_of(n) in INTENTS}


_TOML_AT = re.compile(r"at line (\d+), column (\d+)")


def validate_sla(text: str) -> sla.SlaConfig:
    """The policies of ``text``. Raises ConfigInvalid (line and column of a TOML error)."""
    try:
        return sla.parse_text(text, SLA)
    except ValueError as exc:
        m = _TOML_AT.search(str(exc))
        raise ConfigInvalid(SLA, str(exc), int(m.group(1)) if m else None,
                            int(m.group(2)) if m else None) from None


def build_lexicon(parts: dict[str, str], lexicon_path: Path = DEFAULT_LEXICON,
                  name: str | None = None) -> Lexicon:
    """The packaged lexicon with ``parts`` (intent → text) laid over it, validated as at
    start-up. ``name``: the document being checked (named by the error when the problem
    lies in the packaged part). Raises ConfigInvalid naming the source and line of the
    first problem."""
    base = lexicon_path.read_text(encoding="utf-8")
    try:
        return overlay.load_overlay(lexicon_path, base, parts)
    except LexiconError as exc:
        source = str(exc.path) if str(exc.path).startswith(LEXICON) else exc.path.name
        m = _TOML_AT.search(exc.message)
        raise ConfigInvalid(name or source, exc.message, exc.line,
                            int(m.group(2)) if m else None, source) from None


def validate(session: Session, name: str, text: str,
             lexicon_path: Path = DEFAULT_LEXICON) -> None:
    """Check ``text`` as the new ``name``, together with the other saved documents (a
    lexicon part is checked inside the whole lexicon). Raises NotFound, ConfigInvalid."""
    check_name(name)
    if not text.strip():
        raise ConfigInvalid(name, "empty document")
    if name == SLA:
        validate_sla(text)
        return
    parts = lexicon_parts(saved(session))
    parts[intent_of(name) or ""] = text
    build_lexicon(parts, lexicon_path, name)


def save(session: Session, name: str, text: str, by: GridWorker | None, now: datetime,
         expected_version: int | None = None,
         lexicon_path: Path = DEFAULT_LEXICON) -> ConfigDocument:
    """Validate and store ``text`` as ``name`` (one version more than the last save, reset
    or not); ``now`` aware UTC. ``expected_version``: the version the editor started from
    (0 for the packaged default); another save in between raises WrongState. Runs in the
    caller's transaction (the row is locked). Raises NotFound, ConfigInvalid, WrongState."""
    validate(session, name, text, lexicon_path)
    row = session.exec(select(ConfigDocument).where(ConfigDocument.name == name)
                       .with_for_update()).first()
    current = row.version if row is not None else 0
    if expected_version is not None and expected_version != current:
        raise WrongState(f"{name}: version {current} was saved meanwhile "
                         f"(the edit started from {expected_version})")
    version = max(current, _last_version(session, name)) + 1
    if row is None:
        row = ConfigDocument(name=name, text=text)
    row.text = text
    row.version = version
    row.updated_at = now
    row.updated_by_id = by.id if by is not None else None
    session.add(row)
    session.flush()
    return row


def reset(session: Session, name: str) -> ConfigDocument | None:
    """Delete the saved ``name`` (the packaged default applies again); the deleted row, or
    None when nothing was saved. Raises NotFound."""
    check_name(name)
    row = session.get(ConfigDocument, name)
    if row is not None:
        session.delete(row)
        session.flush()
    return row


def audit_detail(row: ConfigDocument | None) -> dict[str, Any]:
    """The audit detail of a save or reset of ``row``: its version and text (``history``
    reads them back)."""
    if row is None:
        return {}
    return {"version": row.version, "text": row.text}


def _entries(session: Session, name: str, limit: int | None = None) -> list[AuditEntry]:
    query = (select(AuditEntry).where(AuditEntry.target_kind == AUDIT_KIND,
                                      AuditEntry.target_id == name)
             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def _last_version(session: Session, name: str) -> int:
    versions = [e.detail.get("version") for e in _entries(session, name)]
    return max((v for v in versions if isinstance(v, int)), default=0)


def history(session: Session, name: str, limit: int = 20) -> list[Revision]:
    """The last ``limit`` saves and resets of ``name``, newest first (from the audit log).
    Raises NotFound."""
    check_name(name)
    entries = _entries(session, name, limit)
    ids = {e.worker_id for e in entries if e.worker_id is not None}
    names = {w.id: w.name for w in session.exec(
        select(GridWorker).where(GridWorker.id.in_(ids))).all()} if ids else {}
    return [Revision(e.action, e.detail.get("version"), _as_utc(e.at),
                     names.get(e.worker_id), e.detail.get("text")) for e in entries]


# -- trying a message ---------------------------------------------------------------------

@dataclass(frozen=True)
class Trial:
    """What the bot would do with one message under a draft configuration.

    ``understanding``: the classifier's result (intent, category, confidence, slots,
    emergency, urgent, evidence); ``confident``: confidence reaches the lexicon's threshold
    (else the bot asks which one was meant); ``label``: the intent's name for people
    (「报修」); ``kind``: the kind of ticket that would be opened ("repair", "complaint", or
    an emergency's kind), else None; then the ticket's ``category``, SLA ``policy`` name,
    ``response_due_at`` / ``resolve_due_at`` (aware UTC) and the ``promise`` sentence a
    resident would read."""

    understanding: Understanding
    confident: bool
    label: str
    kind: str | None = None
    category: str | None = None
    policy: str | None = None
    response_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    promise: str = ""


def classifier_for(base: Classifier, texts: dict[str, str],
                   lexicon_path: Path | None = None) -> Classifier:
    """``base`` (built on the packaged lexicon) reading the lexicon documents of ``texts``
    (name → text; none: ``base`` itself). Raises ConfigInvalid."""
    parts = lexicon_parts(texts)
    if not parts:
        return base
    return base.with_lexicon(build_lexicon(parts, lexicon_path or base.lexicon.path))


def try_message(session: Session, base: Classifier, text: str, now: datetime,
                drafts: dict[str, str] | None = None, priority: int | None = None) -> Trial:
    """Classify ``text`` with the saved documents and ``drafts`` (name → unsaved text, which
    win over the saved ones) and tell what would follow. ``base``: the process's classifier
    on the packaged lexicon (``LiveConfig.base``); ``now`` aware UTC; ``priority`` the
    ticket priority to match policies with (default: normal). Raises NotFound for an
    unknown draft name, ConfigInvalid for a draft the loaders refuse."""
    texts = saved(session)
    for name, draft in (drafts or {}).items():
        check_name(name)
        texts[name] = draft
    clf = classifier_for(base, texts)
    cfg = validate_sla(texts[SLA]) if SLA in texts else sla.load()
    u = clf.classify(text)
    trial = Trial(u, u.confidence >= clf.threshold, clf.labels.get(u.intent, u.intent))
    if u.emergency is not None:  # an urgent ticket of the emergency's kind, whatever the intent
        kind, category = u.emergency.ticket_kind, u.emergency.category
    elif u.intent in CATEGORY_INTENTS:
        kind, category = u.intent, u.category
    else:
        return trial
    ticket = Ticket(number="-", kind=kind, category=category, urgent=u.urgent,
                    status=TicketStatus.SUBMITTED, created_at=now)
    if priority is not None:
        ticket.priority = priority
    policy = sla.start_clocks(ticket, now, cfg)
    return Trial(u, trial.confident, trial.label, kind, category, policy.name,
                 ticket.response_due_at, ticket.resolve_due_at,
                 promise.for_ticket(ticket, now))


# -- live reload ----------------------------------------------------------------------------

class LiveConfig:
    """Keeps one process's SLA policies and classifier at the saved documents.

    ``base``: the classifier on the packaged lexicon (None in a process that classifies
    nothing, e.g. the worker); ``classifier``: the one to use now. ``refresh`` looks at the
    saved documents at most every ``every_s`` seconds of ``monotonic`` (seconds; the app and
    the worker pass their clock, so a test's frozen clock looks once) and rebuilds
    what changed; a document that no longer loads (the packaged files changed under it) is
    logged and the packaged default used for it. Thread-safe enough for its use: a refresh
    swaps whole objects."""

    def __init__(self, base: Classifier | None, every_s: float = RELOAD_EVERY_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.base = base
        self.classifier = base
        self.every_s = every_s
        self.monotonic = monotonic
        self._stamp: frozenset[tuple[str, int, str, int]] | None = None
        self._checked: float | None = None

    def due(self) -> bool:
        """True when ``refresh`` would look at the database (a clock that went back counts
        as due)."""
        if self._checked is None:
            return True
        elapsed = self.monotonic() - self._checked
        return elapsed >= self.every_s or elapsed < 0

    def refresh(self, engine: Engine, force: bool = False) -> Classifier | None:
        """Apply the saved documents if they changed since the last look (when due, or
        ``force``); returns the classifier to use. Database errors are logged and the
        current configuration kept (a message is never lost for it)."""
        if not (force or self.due()):
            return self.classifier
        self._checked = self.monotonic()
        try:
            with Session(engine) as session:
                rows = session.exec(select(ConfigDocument)).all()
                texts = {r.name: r.text for r in rows}
                stamp = frozenset((r.name, r.version, str(r.updated_at), hash(r.text))
                                  for r in rows)
        except Exception:  # noqa: BLE001 - the bot keeps working on what it has
            log.exception("could not read the saved configuration; keeping the current one")
            return self.classifier
        if stamp != self._stamp:
            self._apply(texts)
            self._stamp = stamp
        return self.classifier

    def _apply(self, texts: dict[str, str]) -> None:
        try:
            sla.use_text(texts.get(SLA))
        except ValueError:
            log.exception("saved SLA policies no longer load; using the policy file")
            sla.use_text(None)
        if self.base is None:
            return
        try:
            self.classifier = classifier_for(self.base, texts)
        except ConfigInvalid:
            log.exception("saved lexicon no longer loads; using the packaged lexicon")
            self.classifier = self.base
        log.info("configuration applied: %s", ", ".join(sorted(texts)) or "packaged defaults")

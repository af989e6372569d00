"""The business layer: what gridbot does, for every door (WeChat chat, staff console,
Open311, CLI, worker).

Actions take plain arguments (a session, rows or ids, an acting person, ``now`` as aware
UTC), run in the caller's transaction, raise the typed errors of ``services.errors`` and
decide who may do what in one place (``services.permissions``); they know nothing of chat
flows or HTTP. Nothing here imports ``handlers``, ``bot``, fastapi or wechatpy: a door
parses its input, calls an action and maps the errors to its own answer (the chat maps them
to catalogue sentences, the console to pages, Open311 to HTTP statuses).

Shape (one job per module)::

    services/
      errors.py       ServiceError ─┬ NotFound    (also a storage.NotFound)
                                    ├ NotAllowed  (the acting person may not do it)
                                    ├ WrongState  (also a storage.Conflict: the status forbids it)
                                    └ Invalid     (a value out of range / missing)
      permissions.py  allowed(session, who, action, ticket) / require(...): every rule of
                      who may act on a ticket, the 回避 recusal included
                      and the console capabilities: may / require_may(session, worker,
                      capability, community_id=None)
      scope.py        what a member of staff sees: Scope, scope_of, ticket_filter (a where-
                      clause over Ticket), community_ids_seen
      accounts.py     console logins: set_password / verify / authenticate (argon2id),
                      sessions (hashed tokens, idle and absolute expiry), one-time login
                      links, Throttle (failed logins in Redis)
      audit_log.py    审计日志 as staff read it (street: all; community: their staff's)
      conflict.py     回避: whom a complaint is about, who takes it instead (conflict.toml)
      people.py       who is told and who works what: community_staff, grid_leaders,
                      department_members, handlers_of, open_tickets_of (queue order)
      notify.py       describe / status_text (what people read about a ticket),
                      tell_staff / tell_owner / tell_resident and the template data;
                      message_resident (a staff member's words to the reporter)
      tickets.py      the life cycle: Reporter (no WeChat resident needed), NewTicket,
                      open_ticket, accept, start, resolve, rate, reopen, auto_close,
                      cancel, urge, attach (photos, a point, a supplement), note (民情日记),
                      assign (派单 by leaders/admins) and assignable_to
      duplicates.py   the open ticket a report duplicates (find); joining it (follow)
      handover.py     转派 (transfer), 上报 (call_in), 驳回 (reject), find_target,
                      transfer_targets
      queue.py        the console's queue: list_tickets / count_tickets within a scope
                      (QueueFilter: grid, kind, category, state, overdue, search), SLA
                      countdowns in colour (countdowns), grid_choices
      timeline.py     the console's ticket page: ticket_detail (steps and pushes merged by
                      time, photos, location on the grid's building list), can_view
      questions.py    询问 (ask) and the resident's answer / 恢复 (answer)
      kept.py         待人工处理: the messages the bot kept for staff, listed within a scope
                      (list_kept, count_kept), answered to the resident (answer) or made
                      a ticket routed like a chat report (to_ticket), each once
      escalation.py   督办: firing one SLA timer (warn, ladder, reminders, 默认满意)
      promise.py      promised times as residents read them (「明天上午9:30前」)
      places.py       where a report is: a point to the nearest building or place
                      (places.toml), ``NewTicket`` location fields
      messages.py     the one message catalogue: every sentence a resident or worker reads
                      (messages.zh.toml)
      org_import.py   `gridbot import` with the hand-over of a leaving or moving worker's
                      open tickets; ``within`` keeps a file to some communities, ``import_by``
                      is the console's import (configure_org / configure_lending, own scope)
      org_view.py     the configuration pages' read-only listings: communities, grids,
                      buildings, staff (phones masked), places, departments, stations with
                      stock, programmes with places and waiting lists, within a scope
      config_docs.py  staff-edited SLA policies ("sla") and intent lexicon tables
                      ("lexicon:<intent>") over the packaged files: validate / save / reset
                      / history, try_message on a draft, LiveConfig (every process picks
                      saves up within settings.config_reload_s)
      notices.py      sending a notice (通知) to the residents ``storage.notices`` picks
      privacy.py      forgetting a resident who unsubscribed (every table scrubbed)
      public_text.py  free text for anonymous readers and the audit log: scrub + names,
                      rooms, 3+ digit runs, e-mail and WeChat accounts masked
      lending.py      工具借用: request, cancel_wait, cancel_hold, renew (residents);
                      hand_out, take_back (station staff, ``permissions.may_lend``);
                      expire_holds (the worker)
      care.py         课后托管: Child, enroll, accept_offer, cancel, mark_attendance,
                      expire_offers; SignupClosed / AlreadyEnrolled (WrongState),
                      NotEligible (Invalid)
      emergency.py    三必到 after the urgent ticket: the same emergency told again
                      (repeat_of), call-back phone / place / more words onto the ticket and
                      pushed to its workers and grid leaders, the numbers to dial
      lending_notify.py  what a borrower is told: offers, hand-out, return, due reminders
      care_notify.py     what a guardian is told: offers, first-class reminders, notices
      open311.py      Open311 GeoReport v2 reads: categories as services, a ticket as a
                      public request (no personal data), GET requests filters
      open311_intake.py  a POSTed request → a ticket routed like a chat report
      api_keys.py     Open311 client keys: issue (shown once, SHA-256 stored), verify, revoke
      open311_limit.py  Open311 POSTs per API key per minute and hour (Redis counters)
      dashboard.py    数据看板: the figures of `gridbot stats` (storage.stats) over a staff
                      scope, tickets per local day by kind, top categories, overdue list
      exports.py      导出: tickets, loans, care rosters, notice deliveries as tables
                      (exports.toml headers); to_csv (UTF-8 BOM) / to_xlsx

Actors: a ``GridWorker`` (staff), a ``Resident`` or None (the system: timers, imports).
Ticket actions lock nothing themselves (the caller loads the ticket ``for_update``), return the
changed row or a plain value, never a reply text; the chat adapters (``handlers.worker``'s
``acting``, ``handlers.cancel``, ``handlers.urge``) map the errors to catalogue sentences.

``storage.lending`` / ``storage.care`` keep the tables, queries, catalogue upserts (used by
``storage.services_import``) and the stock/place mechanics under the row lock that those
upserts share with the actions.
"""

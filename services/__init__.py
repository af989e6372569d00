"""The business layer: what gridbot does, for every door (WeChat chat, staff console,
Open311, CLI, worker).

Actions take plain arguments (ids, values, an acting person), raise the typed errors of
``services.errors`` and decide who may do what in one place; they know nothing of chat
wording flows or HTTP. ``services.messages`` is the one message catalogue: every sentence a
resident or worker reads.
"""

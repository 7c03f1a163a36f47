"""The user actions, once, for both front ends.

Every action the command line and the desktop app both offer lives here as a plain
function: it takes a :class:`~client.store.Store` (or a profile folder, a
:class:`~client.seal.sealing.Sealer`), ids, paths and options, and returns plain values
(dataclasses) or raises a :class:`~client.common.i18n.ComptoirError` carrying a message
code.  Nothing here prints, parses arguments or knows about Qt: ``client/cli/`` renders the
results as lines of text, ``ui/`` runs the same calls in its background operations.

Modules by topic: :mod:`.session` (the profile and its open store for one command),
:mod:`.declarations` (create, copy, mark ready, amend, demo data), :mod:`.sealing`,
:mod:`.exports` (every export format and the print, through one atomic write),
:mod:`.continuity` (fallback documents), :mod:`.rejections`, :mod:`.imports`,
:mod:`.lines` (goods items from an invoice), :mod:`.views` (list, show, history),
:mod:`.validation`, :mod:`.officer` (verify, decide) and :mod:`.keys`.
"""

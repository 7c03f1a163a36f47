"""A CDS emulator: the UK Customs Declarations and Pull Notifications APIs on loopback.

For tests, demos and training, faithful to what HMRC publishes (the OpenAPI documents,
the stub's README, the DMS response samples):

- OAuth 2.0 for the user-restricted endpoints: ``/oauth/authorize`` with a consent step
  (an HTML form a test can drive, or ``--auto-consent``), ``/oauth/token`` (authorization
  code with PKCE S256, refresh with rotation, client credentials), expiry on its clock;
- the submission endpoints (``/customs/declarations/``, ``/amend``,
  ``/cancellation-requests``) with the documented header checks (406, 415, 401, 400 with
  ``errorResponse``), schema validation of every body, 202 + ``X-Conversation-ID``;
- DMS behaviour: CDS12003 for an LRN reused within 48 hours of its clock, the stub's
  LRN-letter notifications and delays;
- the pull queue (unpulled -> pulled, 14 days, 404 for unknown ids), a rate limit
  answering 429, and switchable faults (drop the response after accepting, 5xx bursts,
  slow bodies, 403, 501).

It is a separate module: the connector (:mod:`sync.cds`) never imports it.  It keeps its
state in ``HOME/emulator.db`` so that ``comptoir cds-emulator stats|requests`` can read
it while it runs, and it runs on the standard library's threading HTTP server so that a
fault can act on the socket itself.
"""

"""The emulator's HTTP side: routing, the documented checks, faults on the socket itself."""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import re
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from client.common.b64 import b64u_encode
from client.common.i18n import ComptoirError
from client.declaration.mrn import allocate_mrn
from client.interchange.safexml import local, parse_xml
from sync.cds.wco import validate_body, wco_index
from sync.cds_emulator import dms
from sync.cds_emulator.state import LRN_WINDOW_S, EmulatorState

ACCEPT = "application/vnd.hmrc.1.0+xml"
SCOPE = "write:customs-declaration"
MAX_BODY = 8 << 20
SUBMIT_PATHS = {"/customs/declarations/": "submit", "/customs/declarations/amend": "amend",
                "/customs/declarations/cancellation-requests": "cancel"}
BADGE = re.compile(r"[0-9A-Z]{6,12}")
SUBMITTER = re.compile(r"[0-9A-Za-z]{1,17}")
LOOPBACK = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?(/[^?#]*)?")
_SECRET_FIELDS = ("code", "code_verifier", "refresh_token", "client_secret")


class _Drop(Exception):
    """Close the connection without a response (the fault "drop after accepting")."""


class RateLimiter:
    """A token bucket: ``rate`` requests per second, bursts of at most ``rate``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._at = time.monotonic()
        self._rate: float | None = None

    def allow(self, rate: float | None) -> bool:
        if not rate:
            return True
        with self._lock:
            now = time.monotonic()
            if rate != self._rate:
                self._rate, self._tokens = rate, max(1.0, rate)
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._at) * rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def error_xml(code: str, message: str, errors: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    """HMRC's ``errorResponse`` (error.xsd)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<errorResponse>",
           f"<code>{html.escape(code)}</code>", f"<message>{html.escape(message)}</message>"]
    if errors:
        out.append("<errors>")
        out += [f"<error><code>{html.escape(c)}</code><message>{html.escape(m)}</message>"
                "</error>" for c, m in errors]
        out.append("</errors>")
    out.append("</errorResponse>")
    return "\n".join(out).encode("utf-8")


def _redact(path: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """What the request log keeps: bearer tokens and OAuth secrets masked."""
    h = dict(headers)
    for k in list(h):
        if k.lower() == "authorization":
            scheme = h[k].split(" ", 1)[0]
            h[k] = f"{scheme} <redacted>"
    if path.startswith("/oauth/") and body:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        for f in _SECRET_FIELDS:
            if f in form:
                form[f] = ["<redacted>"]
        body = urlencode({k: v[0] for k, v in form.items()}).encode()
    return h, body


class Emulator:
    """Everything a request needs: the state, the schemas, the admin secret."""

    def __init__(self, state: EmulatorState, schema_dir: Path, admin_token: str) -> None:
        self.state = state
        self.schema_dir = schema_dir
        self.index = wco_index(str(schema_dir))
        self.admin_token = admin_token
        self.limiter = RateLimiter()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CDS-emulator/1.0"
    sys_version = ""
    timeout = 60

    @property
    def emu(self) -> Emulator:
        return self.server.emulator  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """``Date`` on the emulator's clock (the client reads CDS's time from it)."""
        return email.utils.formatdate(self.emu.state.now(), usegmt=True)

    # -- plumbing -------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        self.url_path, self.query = url.path, parse_qs(url.query)
        self.req_id = 0
        try:
            body = self._body()
        except _Drop:
            return self._drop()
        admin = self.url_path.startswith("/_emulator/")
        if not admin:
            headers, logged = _redact(self.url_path, dict(self.headers.items()), body)
            self.req_id = self.emu.state.log_request(method, self.path, headers, logged)
        self.body = body
        try:
            self._route(method)
        except _Drop:
            self._drop()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self._send(411, error_xml("LENGTH_REQUIRED", "Content-Length is required"))
            raise _Drop
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self._send(413, error_xml("PAYLOAD_TOO_LARGE", "Request entity too large"))
            raise _Drop
        return self.rfile.read(n) if n > 0 else b""

    def _drop(self) -> None:
        """Cut the connection: no status line, no close_notify."""
        self.close_connection = True
        if self.req_id:
            self.emu.state.log_status(self.req_id, None)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status: int, body: bytes = b"", *, content_type: str = "application/xml",
              headers: dict[str, str] | None = None) -> None:
        slow = self.emu.state.take_fault("slow") if not self.url_path.startswith(
            ("/_emulator/", "/oauth/")) else None
        seconds = float(slow.get("seconds", 5) if isinstance(slow, dict) else 5) if slow else 0.0
        if seconds and not body:
            time.sleep(seconds)
        if self.req_id:
            self.emu.state.log_status(self.req_id, status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if seconds and body:  # a slow body: trickled over ``seconds``
            step = max(1, len(body) // 20)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(seconds / 20)
        elif body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str,
               errors: list[tuple[str, str]] = (),  # type: ignore[assignment]
               headers: dict[str, str] | None = None) -> None:
        self._send(status, error_xml(code, message, errors), headers=headers)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc).encode(), content_type="application/json",
                   headers={"Cache-Control": "no-store"})

    # -- routing --------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        p = self.url_path
        if p.startswith("/_emulator/"):
            return self._admin(method, p)
        if p == "/oauth/authorize" and method == "GET":
            return self._authorize()
        if p == "/oauth/authorize/decision" and method == "POST":
            return self._decision()
        if p in ("/oauth/token", "/oauth/refresh") and method == "POST":
            return self._token(refresh_only=p == "/oauth/refresh")
        if p in SUBMIT_PATHS or p.startswith("/notifications"):
            if not self.emu.limiter.allow(self.emu.state.get("rate_limit")):
                return self._error(429, "MESSAGE_THROTTLED_OUT",
                                   "The request for the API is throttled as you have exceeded "
                                   "your quota.", headers={"Retry-After": "1"})
            if self.headers.get("Accept", "").strip() != ACCEPT:
                return self._error(406, "ACCEPT_HEADER_INVALID",
                                   "The accept header is missing or invalid")
            if p in SUBMIT_PATHS and method == "POST":
                return self._submit(SUBMIT_PATHS[p])
            if p.startswith("/notifications") and method == "GET":
                return self._pull(p)
        self._error(404, "MATCHING_RESOURCE_NOT_FOUND", "A resource with the name in the "
                    "request can not be found in the API")

    def _bearer(self) -> Any:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        tok = self.emu.state.token(auth[7:].strip())
        if tok is None or tok.kind != "access" or tok.revoked \
                or tok.expires_at <= self.emu.state.now():
            return None
        return tok

    # -- OAuth ----------------------------------------------------------------------------

    def _q(self, name: str) -> str:
        return (self.query.get(name) or [""])[0]

    def _authorize(self) -> None:
        client_id, redirect, state = self._q("client_id"), self._q("redirect_uri"), self._q("state")
        if not client_id or not LOOPBACK.fullmatch(redirect):
            return self._send(400, b"<html><body>Invalid client_id or redirect_uri</body></html>",
                              content_type="text/html; charset=utf-8")
        problem = None
        if self._q("response_type") != "code":
            problem = "unsupported_response_type"
        elif SCOPE not in self._q("scope").split():
            problem = "invalid_scope"
        elif self._q("code_challenge_method") != "S256" or len(self._q("code_challenge")) < 43:
            problem = "invalid_request"
        if problem:
            return self._redirect(redirect, {"error": problem, "state": state})
        scope = self._q("scope")
        if self.emu.state.get("auto_consent"):
            code = self.emu.state.new_code(client_id, redirect, self._q("code_challenge"), scope)
            return self._redirect(redirect, {"code": code, "state": state})
        cid = self.emu.state.new_consent(client_id, redirect, state or None,
                                         self._q("code_challenge"), scope)
        page = (f"<html><head><title>Grant authority</title></head><body>"
                f"<h1>Grant authority</h1><p>{html.escape(client_id)} asks to "
                f"<b>{html.escape(scope)}</b> for you.</p>"
                f'<form method="post" action="/oauth/authorize/decision">'
                f'<input type="hidden" name="consent" value="{cid}"/>'
                f'<button name="decision" value="grant">Grant authority</button>'
                f'<button name="decision" value="deny">Do not grant authority</button>'
                f"</form></body></html>")
        self._send(200, page.encode(), content_type="text/html; charset=utf-8")

    def _decision(self) -> None:
        form = parse_qs(self.body.decode("utf-8", "replace"))
        cid = (form.get("consent") or [""])[0]
        row = self.emu.state.consent(cid)
        if row is None:
            return self._send(400, b"<html><body>Unknown or used consent</body></html>",
                              content_type="text/html; charset=utf-8")
        decision = (form.get("decision") or [""])[0]
        self.emu.state.decide_consent(cid, decision or "deny")
        params = {"state": row["state"] or ""}
        if decision == "grant":
            params["code"] = self.emu.state.new_code(row["client_id"], row["redirect_uri"],
                                                     row["challenge"], row["scope"])
        else:
            params["error"] = "access_denied"
        self._redirect(row["redirect_uri"], params)

    def _redirect(self, uri: str, params: dict[str, str]) -> None:
        q = urlencode({k: v for k, v in params.items() if v})
        self._send(302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{q}"})

    def _token(self, *, refresh_only: bool) -> None:
        form = {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        if refresh_only and grant != "refresh_token":
            return self._json(400, {"error": "unsupported_grant_type"})
        clients: dict[str, str] = self.emu.state.get("clients") or {}
        secret = clients.get(client_id)
        if secret is not None and not secrets.compare_digest(form.get("client_secret", ""),
                                                             secret):
            return self._json(401, {"error": "invalid_client",
                                    "error_description": "invalid client credentials"})
        st = self.emu.state
        if grant == "authorization_code":
            row = st.take_code(form.get("code", ""))
            if row is None or row["client_id"] != client_id \
                    or row["redirect_uri"] != form.get("redirect_uri"):
                return self._json(400, {"error": "invalid_grant",
                                        "error_description": "code invalid or expired"})
            verifier = form.get("code_verifier", "")
            digest = b64u_encode(hashlib.sha256(verifier.encode()).digest())
            if not verifier or digest != row["challenge"]:
                return self._json(400, {"error": "invalid_grant",
                                        "error_description": "PKCE verification failed"})
            return self._json(200, st.issue_tokens(client_id, row["scope"]))
        if grant == "refresh_token":
            tok = st.token(form.get("refresh_token", ""))
            if tok is None or tok.kind != "refresh" or tok.revoked or tok.client_id != client_id \
                    or tok.expires_at <= st.now():
                return self._json(400, {"error": "invalid_grant",
                                        "error_description": "refresh token invalid"})
            st.revoke(tok.token)  # rotation: a refresh token is used once
            return self._json(200, st.issue_tokens(client_id, tok.scope))
        if grant == "client_credentials":
            if secret is None:
                return self._json(401, {"error": "invalid_client"})
            return self._json(200, st.issue_tokens(client_id, "", refresh=False))
        self._json(400, {"error": "unsupported_grant_type"})

    # -- submissions ----------------------------------------------------------------------

    def _submit(self, kind: str) -> None:
        ctype = self.headers.get("Content-Type", "")
        parts = [x.strip().lower() for x in ctype.split(";")]
        if parts[:1] != ["application/xml"] or "charset=utf-8" not in parts[1:]:
            return self._error(415, "UNSUPPORTED_MEDIA_TYPE",
                               "The content type header is missing or invalid")
        tok = self._bearer()
        if tok is None or SCOPE not in tok.scope.split():
            return self._error(401, "UNAUTHORIZED", "Bearer token is missing or not authorized")
        badge = self.headers.get("X-Badge-Identifier")
        submitter = self.headers.get("X-Submitter-Identifier")
        if badge is not None and not BADGE.fullmatch(badge):
            return self._error(400, "BAD_REQUEST", "X-Badge-Identifier header is missing or "
                               "invalid")
        if submitter is not None and not SUBMITTER.fullmatch(submitter):
            return self._error(400, "BAD_REQUEST", "X-Submitter-Identifier header is missing "
                               "or invalid")
        if badge is None and submitter is None:
            return self._error(400, "BAD_REQUEST", "X-Badge-Identifier header is missing or "
                               "invalid")
        st = self.emu.state
        if st.take_fault("forbidden"):
            return self._error(403, "PAYLOAD_FORBIDDEN", "A firewall rejected the request")
        if st.take_fault("not_implemented"):
            return self._error(501, "NOT_IMPLEMENTED", "Not implemented")
        burst = st.take_fault("status_burst")
        if burst:
            status = int(burst.get("status", 500)) if isinstance(burst, dict) else 500
            return self._error(status, "INTERNAL_SERVER_ERROR" if status == 500
                               else "SERVER_ERROR", "Internal server error")
        if st.take_fault("drop_before_accept"):
            raise _Drop
        problems = validate_body(self.body, self.emu.schema_dir, cancellation=kind == "cancel")
        if problems:
            return self._error(400, "BAD_REQUEST", "Payload is not valid according to schema",
                               [("xml_validation_error", p.text()) for p in problems])
        conv = self._lodge(kind, tok.client_id)
        if st.take_fault("drop_after_accept"):
            raise _Drop
        self._send(202, headers={"X-Conversation-ID": conv})

    def _lodge(self, kind: str, client_id: str) -> str:
        st = self.emu.state
        root = parse_xml(self.body, source="<body>")
        decl = next((c for c in root if local(c) == "Declaration"), None)

        def text(*names: str) -> str | None:
            el = decl
            for n in names:
                el = next((c for c in el if local(c) == n), None) if el is not None else None
            return (el.text or "").strip() if el is not None and el.text else None

        lrn = text("FunctionalReferenceID") or ""
        fc = text("FunctionCode")
        version = 1
        now = st.now()
        scale = float(st.get("delay_scale") or 0.0)
        delay = dms.delay_of(lrn, scale)
        plan: list[tuple[float, bytes]] = []

        def note(code: str, mrn: str | None, errors: Any = (), status: str | None = None,
                 extra: float = 0.0) -> None:
            plan.append((delay + extra, dms.response_xml(
                function_code=code, lrn=lrn or None, mrn=mrn, issued_at=now + delay + extra,
                version=version, errors=list(errors), status_code=status)))

        transport_id = (text("BorderTransportMeans", "ID") or "").upper()
        if kind == "submit":
            if lrn and st.lrn_accepted_since(lrn, now - LRN_WINDOW_S):
                sections, tag = self._pointer("CDS12003")
                note("03", None, [("CDS12003", sections, tag)])
                return st.record_submission(client_id=client_id, endpoint=kind, lrn=lrn,
                                            function_code=fc, outcome="duplicate", mrn=None,
                                            notifications=plan)
            mrn = allocate_mrn("GB", time.gmtime(now).tm_year, st.next_serial())
            letter = lrn[:1].upper()
            if transport_id != "NONOTIFY":
                for code in dms.LETTERS.get(letter, dms.DEFAULT_CODES):
                    errors = []
                    if code == "03":
                        rc = dms.rejection_code(lrn)
                        sections, tag = self._pointer(rc)
                        errors = [(rc, sections, tag)]
                    note(code, mrn, errors)
            return st.record_submission(client_id=client_id, endpoint=kind, lrn=lrn,
                                        function_code=fc, outcome="accepted", mrn=mrn,
                                        notifications=plan)
        mrn = text("ID") or st.mrn_of(lrn)
        if kind == "amend":
            if lrn[:1].upper() in dms.AMEND_LETTERS and transport_id not in ("PENDING",
                                                                             "NONOTIFY"):
                if transport_id == "REJECTED":
                    sections, tag = self._pointer("CDS10020")
                    note("03", mrn, [("CDS10020", sections, tag)])
                else:
                    note("11", mrn, status="41" if transport_id == "DENIED" else "39")
        else:  # cancellation request: the LRN's third character chooses
            granted = len(lrn) > 2 and lrn[2].upper() == "S"
            note("11", mrn, status="39" if granted else "41")
            if granted:
                note("10", mrn)
        return st.record_submission(client_id=client_id, endpoint=kind, lrn=lrn,
                                    function_code=fc, outcome="accepted", mrn=mrn,
                                    notifications=plan)

    def _pointer(self, code: str) -> tuple[list[tuple[str, int | None]], str | None]:
        return self.emu.index.pointer_for(dms.REJECTION_PATHS.get(code,
                                                                  dms.REJECTION_PATHS["CDS10020"]))

    # -- the pull queue -------------------------------------------------------------------

    def _pull(self, p: str) -> None:
        tok = self._bearer()
        if tok is None:
            return self._error(401, "UNAUTHORIZED", "Bearer token is missing or not authorized")
        st = self.emu.state
        parts = [x for x in p.split("/") if x][1:]  # after "notifications"
        if len(parts) == 2 and parts[0] in ("unpulled", "pulled"):
            status, row = st.fetch_notification(tok.client_id, parts[1],
                                                pulled=parts[0] == "pulled")
            if status == "unknown" or status == "pulled":
                return self._error(404, "NOT_FOUND", "Resource was not found")
            if status == "unpulled":
                return self._error(400, "BAD_REQUEST", "Notification is unpulled")
            assert row is not None
            return self._send(200, row["payload"], headers={
                "X-Conversation-ID": row["conversation_id"]})
        if parts in (["unpulled"], ["pulled"]):
            ids = st.notification_ids(tok.client_id, pulled=parts[0] == "pulled")
            return self._resource(f"/notifications/{parts[0]}/", ids)
        if len(parts) >= 2 and parts[0] == "conversationId" and len(parts) <= 3:
            conv = parts[1]
            which = parts[2] if len(parts) == 3 else None
            if which not in (None, "unpulled", "pulled"):
                return self._error(404, "NOT_FOUND", "Resource was not found")
            if not st.conversation_known(tok.client_id, conv):
                return self._error(404, "NOT_FOUND", "Resource was not found")
            ids = st.notification_ids(tok.client_id, conversation_id=conv,
                                      pulled=None if which is None else which == "pulled")
            return self._resource(f"/notifications/conversationId/{conv}/"
                                  + (f"{which}/" if which else ""), ids)
        self._error(404, "NOT_FOUND", "Resource was not found")

    def _resource(self, href: str, ids: list[tuple[str, bool]]) -> None:
        links = [f'  <link rel="self" href="{href.rstrip("/")}"/>']
        links += [f'  <link rel="notification" href="/notifications/'
                  f'{"pulled" if pulled else "unpulled"}/{nid}"/>' for nid, pulled in ids]
        body = f'<resource href="{href}">\n' + "\n".join(links) + "\n</resource>\n"
        self._send(200, body.encode())

    # -- administration (tests, demos, training) ----------------------------------------

    def _admin(self, method: str, p: str) -> None:
        given = self.headers.get("X-Emulator-Admin", "")
        if not secrets.compare_digest(given, self.emu.admin_token):
            return self._json(403, {"error": "admin token required"})
        try:
            doc = json.loads(self.body or b"{}")
        except ValueError:
            return self._json(400, {"error": "JSON body expected"})
        st = self.emu.state
        if p == "/_emulator/faults" and method == "POST":
            faults = dict(st.get("faults") or {})
            faults.update({k: v for k, v in doc.items() if v is not None})
            for k in [k for k, v in doc.items() if v is None]:
                faults.pop(k, None)
            st.set("faults", faults)
            return self._json(200, faults)
        if p == "/_emulator/clock" and method == "POST":
            return self._json(200, {"now": st.advance_clock(float(doc.get("advance_s", 0)))})
        if p == "/_emulator/config" and method == "POST":
            for key in ("rate_limit", "delay_scale", "token_ttl", "auto_consent"):
                if key in doc:
                    st.set(key, doc[key])
            return self._json(200, {k: st.get(k) for k in ("rate_limit", "delay_scale",
                                                           "token_ttl", "auto_consent")})
        if p == "/_emulator/revoke" and method == "POST":
            return self._json(200, {"revoked": st.revoke_all(doc.get("kind") or "refresh")})
        if p == "/_emulator/expire" and method == "POST":
            return self._json(200, {"expired": st.expire_access()})
        if p == "/_emulator/consents" and method == "GET":
            return self._json(200, {"pending": st.pending_consents()})
        if p == "/_emulator/stats" and method == "GET":
            return self._json(200, st.stats())
        self._json(404, {"error": "unknown admin endpoint"})


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, sock: socket.socket, emulator: Emulator, ssl_context: Any) -> None:
        super().__init__(sock.getsockname()[:2], Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = ssl_context.wrap_socket(sock, server_side=True,
                                              do_handshake_on_connect=False)
        self.emulator = emulator

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(60)
            request.do_handshake()
        except (OSError, ComptoirError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client gone mid-request is not the emulator's error

"""OAuth 2.0 for a desktop app, as RFC 8252 says: the system browser, a loopback
redirect on a random port, PKCE (S256) and a checked ``state``; then tokens in the
keyring, refreshed before they expire and on a 401.

A refresh the authorization server refuses (revoked, expired after 18 months) puts the
profile in "sign in again": the tokens are dropped, the queue is untouched, and the
next ``comptoir connect cds`` (or the desktop's Sign in button) starts over.  Authlib
builds the authorize URL (with PKCE) and makes the token requests; this module runs the
loopback listener and keeps the tokens.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc6749.errors import MismatchingStateException

from client.common.i18n import tr
from sync.cds.config import SCOPE, CdsConfig
from sync.connectors.base import ConnectorError

TOKEN_SECRET = "cds/token"
CLIENT_SECRET = "cds/client-secret"
REFRESH_MARGIN_S = 120.0
CALLBACK_PATH = "/callback"


class SignInAgain(ConnectorError):
    """The refresh token was refused: the user must sign in to CDS again."""

    exit_code = 3


class OAuthFailed(ConnectorError):
    """The authorization step did not give a code (denied, state mismatch, timeout)."""


def _session(cfg: CdsConfig, secret: str | None, **kw: Any) -> OAuth2Session:
    s = OAuth2Session(cfg.client_id, secret, scope=SCOPE,
                      token_endpoint_auth_method="client_secret_post" if secret else "none",
                      **kw)
    s.trust_env = False  # no proxy or CA bundle from the environment
    s.verify = str(cfg.ca_pem_path) if cfg.ca_pem_path else True
    return s


def _stamp(token: dict[str, Any], now: float) -> dict[str, Any]:
    expires_in = float(token.get("expires_in") or 0)
    return {"access_token": token["access_token"], "refresh_token": token.get("refresh_token"),
            "expires_at": now + expires_in if expires_in else None,
            "scope": token.get("scope"), "obtained_at": now, "status": "signed_in"}


# ------------------------------------------------------------------------ loopback redirect

class _Callback(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path != CALLBACK_PATH:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.result = f"http://127.0.0.1:{self.server.server_port}{self.path}"  # type: ignore[attr-defined]
        q = parse_qs(url.query)
        ok = "code" in q and "error" not in q
        text = tr("cds.oauth_page_ok" if ok else "cds.oauth_page_failed")
        page = f"<html><body><p>{html.escape(text)}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)
        self.server.done.set()  # type: ignore[attr-defined]


class LoopbackRedirect:
    """``http://127.0.0.1:{random port}/callback``, waiting for one redirect."""

    def __init__(self) -> None:
        self.server = HTTPServer(("127.0.0.1", 0), _Callback)
        self.server.result = None  # type: ignore[attr-defined]
        self.server.done = threading.Event()  # type: ignore[attr-defined]
        self.uri = f"http://127.0.0.1:{self.server.server_port}{CALLBACK_PATH}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> str | None:
        self.server.done.wait(timeout)  # type: ignore[attr-defined]
        return self.server.result  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign_in(cfg: CdsConfig, secrets: Any, *, client_secret: str | None = None,
            open_browser: bool = True, show_url: Callable[[str], None] = print,
            timeout: float = 300.0, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """The authorization code flow with PKCE; the tokens end in the keyring."""
    redirect = LoopbackRedirect()
    try:
        session = _session(cfg, client_secret, redirect_uri=redirect.uri,
                           code_challenge_method="S256")
        verifier = generate_token(64)
        state = generate_token(32)
        url, _ = session.create_authorization_url(f"{cfg.url}/oauth/authorize", state=state,
                                                  code_verifier=verifier)
        show_url(url)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        answer = redirect.wait(timeout)
    finally:
        redirect.close()
    if answer is None:
        raise OAuthFailed("cds.oauth_timeout", 3, seconds=int(timeout))
    q = parse_qs(urlsplit(answer).query)
    if "error" in q:
        raise OAuthFailed("cds.oauth_denied", 3, error=q["error"][0][:80])
    try:
        token = session.fetch_token(f"{cfg.url}/oauth/token", authorization_response=answer,
                                    state=state, code_verifier=verifier,
                                    timeout=(cfg.connect_timeout, cfg.read_timeout))
    except MismatchingStateException as exc:  # not the answer to this sign-in
        raise OAuthFailed("cds.oauth_state_mismatch", 3) from exc
    except AuthlibBaseError as exc:
        raise OAuthFailed("cds.oauth_refused", 3, error=str(exc.error or exc)[:120]) from exc
    except Exception as exc:  # noqa: BLE001 - network, TLS, a malformed answer
        raise OAuthFailed("cds.oauth_refused", 3, error=type(exc).__name__) from exc
    kept = _stamp(dict(token), clock())
    secrets.set(TOKEN_SECRET, json.dumps(kept))
    return kept


# ------------------------------------------------------------------------------ keeping

class TokenKeeper:
    """The current access token: refreshed before expiry and when CDS answers 401."""

    def __init__(self, cfg: CdsConfig, secrets: Any, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.secrets = secrets
        self.clock = clock
        self._lock = threading.Lock()
        self.refreshes = 0
        self._cached: dict[str, Any] | None = None

    def load(self, *, fresh: bool = False) -> dict[str, Any] | None:
        """The kept tokens; from memory unless ``fresh`` (a keyring read costs a D-Bus
        round trip, and another process may have rotated them)."""
        if self._cached is not None and not fresh:
            return self._cached
        raw = self.secrets.get(TOKEN_SECRET)
        if not raw:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        self._cached = doc if isinstance(doc, dict) else None
        return self._cached

    def status(self) -> str:
        doc = self.load(fresh=True)
        if doc is None:
            return "none"
        return str(doc.get("status") or "signed_in")

    def access_token(self) -> str:
        with self._lock:
            doc = self._signed_in()
            expires = doc.get("expires_at")
            if expires is not None and float(expires) - self.clock() < REFRESH_MARGIN_S:
                doc = self._refresh(doc)
            return str(doc["access_token"])

    def refresh_after_401(self, used: str) -> str:
        """A 401 with ``used``: refresh once (unless another thread already did)."""
        with self._lock:
            doc = self._signed_in(fresh=True)
            if doc["access_token"] != used:
                return str(doc["access_token"])
            return str(self._refresh(doc)["access_token"])

    def _signed_in(self, *, fresh: bool = False) -> dict[str, Any]:
        doc = self.load(fresh=fresh)
        if doc is None:
            raise SignInAgain("cds.not_signed_in", 3)
        if doc.get("status") == "sign_in_again":
            raise SignInAgain("cds.sign_in_again", 3, reason=doc.get("reason", "-"))
        return doc

    def _refresh(self, doc: dict[str, Any]) -> dict[str, Any]:
        rt = doc.get("refresh_token")
        if not rt:
            return self._give_up("no refresh token")
        secret = self.secrets.get(CLIENT_SECRET) if self.cfg.confidential else None
        session = _session(self.cfg, secret)
        try:
            token = session.refresh_token(f"{self.cfg.url}/oauth/token", refresh_token=rt,
                                          timeout=(self.cfg.connect_timeout,
                                                   self.cfg.read_timeout))
        except OAuthError as exc:
            now = self.load(fresh=True) or {}
            if now.get("refresh_token") and now.get("refresh_token") != rt \
                    and now.get("status") != "sign_in_again":
                return now  # another process refreshed first (rotation): use its tokens
            return self._give_up(str(exc.error or "refused")[:80])
        except Exception as exc:  # noqa: BLE001 - unreachable: keep the tokens, retry later
            from sync.transport import TransportError

            raise TransportError("transport.unreachable", url=self.cfg.url,
                                 reason=type(exc).__name__) from exc
        kept = _stamp(dict(token), self.clock())
        if not kept.get("refresh_token"):
            kept["refresh_token"] = rt
        self.secrets.set(TOKEN_SECRET, json.dumps(kept))
        self._cached = kept
        self.refreshes += 1
        return kept

    def _give_up(self, reason: str) -> dict[str, Any]:
        self._cached = {"status": "sign_in_again", "reason": reason, "at": self.clock()}
        self.secrets.set(TOKEN_SECRET, json.dumps(self._cached))
        raise SignInAgain("cds.sign_in_again", 3, reason=reason)

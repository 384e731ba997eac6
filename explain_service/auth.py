"""Transport security and callers: TLS (optionally mutual) from PEM files, bearer tokens in metadata.

Tokens come from a file (one per line) or an environment variable and are compared in constant time
(`hmac.compare_digest`). Health checks stay open so that orchestrators can probe without a secret. The audit
trail names a token's holder by an HMAC of the token under a server secret: a bare hash of a short or guessable
token could be reversed by trying candidates, an HMAC cannot without the secret file.
"""

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import grpc

from medxai.errors import UserError

OPEN_METHODS = ("/grpc.health.v1.Health/",)
SECRET_BYTES = 32
TOKEN_ENV = "MEDXAI_SERVICE_TOKENS"
"""Comma-separated tokens, used when no token file is given."""


def load_tokens(token_file: str | Path | None) -> list[str]:
    """Tokens from `token_file` (one per line, blank lines and # comments ignored), else from $MEDXAI_SERVICE_TOKENS."""
    if token_file:
        path = Path(token_file)
        if not path.is_file():
            raise UserError(f"token file not found: {path}")
        tokens = [line.strip() for line in path.read_text().splitlines()]
        tokens = [token for token in tokens if token and not token.startswith("#")]
        if not tokens:
            raise UserError(f"token file {path} holds no token")
        return tokens
    return [token.strip() for token in os.environ.get(TOKEN_ENV, "").split(",") if token.strip()]


def server_credentials(cert: str | Path, key: str | Path, client_ca: str | Path | None = None) -> grpc.ServerCredentials:
    """TLS from PEM files; with `client_ca`, clients must present a certificate it signed (mutual TLS)."""
    for path in (cert, key, client_ca):
        if path and not Path(path).is_file():
            raise UserError(f"TLS file not found: {path}")
    pair = [(Path(key).read_bytes(), Path(cert).read_bytes())]
    if client_ca:
        return grpc.ssl_server_credentials(pair, root_certificates=Path(client_ca).read_bytes(),
                                           require_client_auth=True)
    return grpc.ssl_server_credentials(pair)


def load_secret(path: str | Path) -> bytes:
    """The server's fingerprint secret from `path`, created (random, mode 0600) on first start."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        if not isinstance(exc, FileExistsError):
            raise UserError(f"cannot create the fingerprint secret {path}: {exc.strerror}") from None
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            raise UserError(f"fingerprint secret {path} holds {len(secret)} bytes, fewer than {SECRET_BYTES}: "
                            f"delete it to have a new one made") from None
        return secret
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_bytes(SECRET_BYTES))
    return path.read_bytes()


def bearer(metadata) -> str:
    """The token of an `authorization: Bearer <token>` metadata entry (scheme in any case, RFC 6750), or ''."""
    for key, value in metadata or ():
        scheme, _, token = value.partition(" ") if isinstance(value, str) else ("", "", "")
        if key == "authorization" and scheme.lower() == "bearer":
            return token.strip()
    return ""


def caller_identity(context: grpc.ServicerContext, secret: bytes | None) -> str:
    """Who called, for the audit trail: the client certificate's subject (mutual TLS), else an HMAC of the
    token under `secret` (never the token; None for a refused call, whose token is not anyone's), else the
    peer address."""
    subjects = context.auth_context().get("x509_common_name")
    if subjects:
        return f"cn:{subjects[0].decode()}"
    token = bearer(context.invocation_metadata())
    if token and secret is not None:
        return f"token:{hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()[:16]}"
    return f"peer:{context.peer()}"


class TokenAuth(grpc.ServerInterceptor):
    """Refuse every RPC but health checks without a known bearer token (UNAUTHENTICATED); `refused(rpc, context)`
    is told of each refusal (for the audit trail and metrics)."""

    def __init__(self, tokens: list[str], refused: Callable[[str, grpc.ServicerContext], None]):
        self._tokens = [token.encode() for token in tokens]
        self._refused = refused

    def allowed(self, token: str) -> bool:
        given = token.encode()
        # Compare with every token, so the time taken says nothing about which one (or how much) matched.
        return any([hmac.compare_digest(given, known) for known in self._tokens]) and bool(given)

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(OPEN_METHODS) or \
                self.allowed(bearer(handler_call_details.invocation_metadata)):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        return None if handler is None else self._refusal(handler, handler_call_details.method.rsplit("/", 1)[-1])

    def _refusal(self, handler: grpc.RpcMethodHandler, rpc: str) -> grpc.RpcMethodHandler:
        """A handler of the same streaming kind that answers UNAUTHENTICATED."""
        def refuse(request, context):
            self._refused(rpc, context)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token (metadata "
                                                           "'authorization: Bearer <token>')")
        kind = f"{'stream' if handler.request_streaming else 'unary'}_" \
               f"{'stream' if handler.response_streaming else 'unary'}"
        return getattr(grpc, f"{kind}_rpc_method_handler")(refuse, request_deserializer=handler.request_deserializer,
                                                           response_serializer=handler.response_serializer)

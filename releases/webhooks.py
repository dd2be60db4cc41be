"""Outgoing webhooks without Django: signing, secret encryption, URL safety and one delivery.

A receiver verifies a request by recomputing ``HMAC-SHA256(secret, f"{t}.{body}")`` from the
``X-ModelGate-Signature: t=<unix seconds>,v1=<hex>`` header and comparing in constant time
(``verify_signature`` below is that receiver, for tests and for people's own code to copy).

Server-side request forgery: a webhook URL is chosen by a user, so ModelGate must not be made to
call its own network. Every address the URL's host resolves to must be public, both when the
webhook is created and on every delivery; the delivery then connects to the very address it
checked (sending the name in the Host header and TLS SNI), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SIGNATURE_HEADER = "X-ModelGate-Signature"
EVENT_HEADER = "X-ModelGate-Event"
DELIVERY_HEADER = "X-ModelGate-Delivery"
MAX_URL_LENGTH = 2000

Resolver = Callable[[str, int], list[str]]


class UnsafeWebhookURL(Exception):
    """The URL is not one ModelGate may call; the message says why and what to change."""


# --- Signing -----------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret=secret, timestamp=timestamp, body=body)}"


def verify_signature(
    *, secret: str, header: str, body: bytes, tolerance_seconds: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (no replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Secrets at rest ---------------------------------------------------------------------------
# The server must sign every delivery, so it needs the secret itself, not a hash. It is stored
# encrypted (Fernet: AES-128-CBC + HMAC) with a key derived from SECRET_KEY, so a database dump
# or backup alone does not give the secrets away; SECRET_KEY_FALLBACKS keep old rows readable
# after a key rotation.


def _fernet_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"modelgate-webhook-secret:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet(secret_keys: Iterable[str]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in secret_keys])


def encrypt_secret(secret: str, *, secret_keys: Iterable[str]) -> str:
    return _fernet(secret_keys).encrypt(secret.encode()).decode()


def decrypt_secret(token: str, *, secret_keys: Iterable[str]) -> str:
    try:
        return _fernet(secret_keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnsafeWebhookURL(
            "The webhook's secret cannot be decrypted with this server's SECRET_KEY (or its "
            "SECRET_KEY_FALLBACKS): delete the webhook and create it again."
        ) from None


# --- URL safety --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL, lowercased, without brackets
    port: int
    path: str  # path and query, what the request line carries

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookURL(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookURL(f"The URL is not valid ({exc}).") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeWebhookURL("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise UnsafeWebhookURL("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookURL(
            "Put no user name or password in the URL: the receiver checks the signature instead."
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(
        scheme=parts.scheme,
        host=parts.hostname.lower().rstrip("."),
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def is_public_address(address: str) -> bool:
    """A globally routable unicast address: not loopback, private, link-local, multicast,
    reserved, unspecified, shared (CGNAT) or documentation space, also when IPv4 hides inside
    IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_multicast
            or ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(
    target: Target, *, allow_hosts: Iterable[str], resolver: Resolver = system_resolver
) -> str:
    """The address to connect to: every address the host resolves to must be public, unless
    the URL's host (the name or literal written in it) is on the admin's allow list."""
    try:
        addresses = resolver(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookURL(f"The host {target.host!r} does not resolve ({exc}).") from None
    if not addresses:
        raise UnsafeWebhookURL(f"The host {target.host!r} does not resolve.")
    allowed = {h.strip().lower().strip("[]").rstrip(".") for h in allow_hosts if h.strip()}
    if target.host not in allowed:
        internal = [a for a in addresses if not is_public_address(a)]
        if internal:
            raise UnsafeWebhookURL(
                f"The host {target.host!r} resolves to {', '.join(internal)}, which is not a "
                "public address (loopback, private, link-local, multicast and reserved ranges "
                "are refused). An admin may allow an internal host with "
                "MODELGATE_WEBHOOK_ALLOW_HOSTS."
            )
    return addresses[0]


def check_url(url: str, *, allow_hosts: Iterable[str], resolver: Resolver = system_resolver) -> str:
    """Refuse a URL ModelGate may not call (UnsafeWebhookURL); returns the URL, trimmed."""
    resolve_checked(parse_url(url), allow_hosts=allow_hosts, resolver=resolver)
    return url.strip()


# --- Delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None
    duration_ms: float
    error: str = ""
    refused: bool = False  # the URL failed the safety check: retrying will not help

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.refused or self.ok:
            return False
        return (
            self.status_code is None
            or self.status_code in {408, 425, 429}
            or (self.status_code >= 500)
        )


def deliver(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    allow_hosts: Iterable[str],
    timeout_seconds: float,
    resolver: Resolver = system_resolver,
) -> DeliveryResult:
    """POST ``body`` once: check the address, connect to that address, follow no redirect."""
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        target = parse_url(url)
        address = resolve_checked(target, allow_hosts=allow_hosts, resolver=resolver)
    except UnsafeWebhookURL as exc:
        return DeliveryResult(None, elapsed(), f"Refused: {exc}", refused=True)
    timeout = urllib3.Timeout(connect=min(3.0, timeout_seconds), read=timeout_seconds)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        # Connect to the checked address; the certificate must still match the name.
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        status = response.status
        response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        return DeliveryResult(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    finally:
        pool.close()
    error = "" if 200 <= status < 300 else f"The receiver answered HTTP {status}."
    if 300 <= status < 400:
        error += " Redirects are not followed: use the final URL."
    return DeliveryResult(status, elapsed(), error)

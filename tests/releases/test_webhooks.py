"""Webhooks: signed deliveries a receiver can verify, retries with backoff, and no requests to
internal addresses (at creation, at delivery, and after DNS changes its answer)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from releases import services
from releases import webhooks as plain
from releases.errors import Forbidden, InvalidInput
from releases.models import AuditEvent, DeliveryStatus, Webhook, WebhookDelivery
from releases.tasks import deliver_webhook
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP server on 127.0.0.1 that answers with scripted status codes and keeps what it got."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/modelgate?channel=releases"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    # The receiver is on loopback: the admin setting lets exactly this host through.
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    settings.MODELGATE_WEBHOOK_RETRY_BASE_SECONDS = 0
    r = Receiver([])
    yield r
    r.close()


@pytest.fixture
def version(risk_model: Any, owner: Any) -> Any:
    return ModelVersionFactory(registered_model=risk_model, version=3, uploaded_by=owner)


def _approve(version: Any, actor: Any) -> AuditEvent:
    """What R1's approval service records; the hook turns it into a version.approved event."""
    return services.audit_record(
        actor=actor,
        action="version.approve",
        model_version=version,
        payload={
            "comment": "Looks good",
            "before": {"status": "validated"},
            "after": {"status": "approved"},
        },
    )


def _run_deliveries(django_capture_on_commit_callbacks: Any, fn: Any) -> list[WebhookDelivery]:
    """Do ``fn`` in a transaction, then run each delivery task it enqueued in this process
    (Celery's eager apply, which also runs the retries at once)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fn()
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert len(callbacks) == len(deliveries)
    for d in deliveries:
        deliver_webhook.apply(kwargs={"delivery_id": d.pk})
    for d in deliveries:
        d.refresh_from_db()
    return deliveries


# --- Signing and delivery ----------------------------------------------------------------------


def test_receiver_verifies_the_signature_of_a_delivered_event(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    _, secret = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url
    )
    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1 and delivery.response_status == 200
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/modelgate?channel=releases"
    assert headers["X-ModelGate-Event"] == "version.approved"
    assert headers["Content-Type"] == "application/json"
    # The receiver's own check, written here from the documented scheme.
    import hashlib
    import hmac

    fields = dict(part.split("=", 1) for part in headers["X-ModelGate-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert plain.verify_signature(secret=secret, header=headers["X-ModelGate-Signature"], body=body)
    # A body changed in transit, or another webhook's secret, fails the check.
    assert not plain.verify_signature(
        secret=secret, header=headers["X-ModelGate-Signature"], body=body.replace(b"3", b"4")
    )
    assert not plain.verify_signature(
        secret=plain.new_secret(), header=headers["X-ModelGate-Signature"], body=body
    )
    payload = json.loads(body)
    assert payload["event"] == "version.approved"
    assert payload["model"] == {"name": "credit-risk", "team": "risk"}
    assert payload["version"]["number"] == 3
    assert payload["actor"] == "rui"
    assert payload["data"]["comment"] == "Looks good"
    assert payload["data"]["before"] == {"status": "validated"}
    assert headers["X-ModelGate-Delivery"] == str(delivery.pk)


def test_secret_is_stored_encrypted_and_only_the_server_can_recover_it(
    receiver: Receiver, risk_model: Any, reviewer: Any, settings: Any
) -> None:
    webhook, secret = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url
    )
    stored = Webhook.objects.get(pk=webhook.pk).secret_encrypted
    assert secret not in stored
    keys = [settings.SECRET_KEY]
    assert plain.decrypt_secret(stored, secret_keys=keys) == secret
    with pytest.raises(plain.UnsafeWebhookURL, match="cannot be decrypted"):
        plain.decrypt_secret(stored, secret_keys=["another-server's-key-" * 3])
    # After a key rotation the old key, kept in SECRET_KEY_FALLBACKS, still decrypts it.
    assert plain.decrypt_secret(stored, secret_keys=["new-key-" * 8, *keys]) == secret


def test_delivery_is_retried_after_500s_then_succeeds(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    receiver.codes = [500, 503]
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert [len(receiver.requests), delivery.attempts] == [3, 3]
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 503, 200]
    assert "HTTP 500" in delivery.attempt_log[0]["error"]
    # Every attempt is the same event, freshly signed.
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1
    ids = {r["headers"]["X-ModelGate-Delivery"] for r in receiver.requests}
    assert ids == {str(delivery.pk)}


def test_delivery_gives_up_after_the_bounded_number_of_attempts(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    settings: Any, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.MODELGATE_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.codes = [500] * 10
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3 and len(receiver.requests) == 3
    assert delivery.response_status == 500


def test_a_client_error_is_not_retried(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    receiver.codes = [410]
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("failed", 1, 1)


def test_redirects_are_not_followed(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    receiver.codes = [302]
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )
    assert delivery.status == DeliveryStatus.FAILED
    assert "Redirects are not followed" in delivery.error
    assert len(receiver.requests) == 1


def test_retry_waits_grow_exponentially_within_jitter(settings: Any) -> None:
    settings.MODELGATE_WEBHOOK_RETRY_BASE_SECONDS = 30
    waits = [services.webhook_retry_delay(attempt=n) for n in (1, 2, 3, 4)]
    for n, wait in enumerate(waits):
        assert 30 * 2**n <= wait <= 30 * 2**n * 1.25
    # However many attempts an admin allows, no wait outlasts the broker's visibility timeout.
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    assert services.webhook_retry_delay(attempt=30) <= 1800


def test_only_subscribed_events_of_that_model_are_sent(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url, events=["version.promoted"]
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _approve(version, reviewer)  # not subscribed
        services.audit_record(actor=reviewer, action="version.download", model_version=version)
    assert callbacks == [] and not WebhookDelivery.objects.exists()


def test_a_rolled_back_action_announces_nothing(
    receiver: Receiver, risk_model: Any, reviewer: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    from django.db import transaction

    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _approve(version, reviewer)
        raise RuntimeError("the approval failed after its audit row")
    assert callbacks == [] and not WebhookDelivery.objects.exists()


# --- Address safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://127.0.0.1/hook",
        "http://localhost/hook",  # a name that resolves to 127.0.0.1
        "http://192.168.0.10/hook",
        "http://100.64.0.1/hook",  # shared address space (CGNAT)
        "http://224.0.0.1/hook",  # multicast
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://[fe80::1]/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://user:pass@example.com/hook",
        "https:///nohost",
    ],
)
def test_webhook_to_an_internal_or_odd_address_is_refused_at_creation(
    url: str, risk_model: Any, reviewer: Any, settings: Any
) -> None:
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = []
    with pytest.raises(InvalidInput) as refused:
        services.webhook_create(actor=reviewer, registered_model=risk_model, url=url)
    assert refused.value.field == "url"
    assert not Webhook.objects.exists()


def test_allow_list_matches_the_host_written_in_the_url_not_what_it_resolves_to(
    risk_model: Any, reviewer: Any, settings: Any
) -> None:
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    services.webhook_create(actor=reviewer, registered_model=risk_model, url="http://127.0.0.1/h")
    with pytest.raises(InvalidInput, match="not a public address"):
        services.webhook_create(
            actor=reviewer, registered_model=risk_model, url="http://localhost/h"
        )


def test_public_addresses_pass_the_check() -> None:
    for address in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"):
        assert plain.is_public_address(address)
    for address in ("10.0.0.1", "172.16.5.4", "127.0.0.53", "169.254.1.1", "::1", "fc00::1",
                    "198.18.0.1", "240.0.0.1", "255.255.255.255", "2002:7f00:1::1"):  # fmt: skip
        assert not plain.is_public_address(address), address


def test_dns_rebinding_to_loopback_at_delivery_time_is_refused(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """The name resolves to a public address when the webhook is created, then to the
    receiver's loopback address when the event is delivered: nothing reaches the receiver."""
    answers = {"hooks.example.test": "93.184.215.14"}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return real(answers[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    url = f"http://hooks.example.test:{receiver.port}/hook"
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=url)
    answers["hooks.example.test"] = "127.0.0.1"  # the attacker's DNS changes its answer

    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "127.0.0.1" in delivery.error and "not a public address" in delivery.error


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "::1"])
def test_a_webhook_whose_name_now_points_inside_is_refused_at_delivery(
    address: str, risk_model: Any, reviewer: Any, owner: Any, version: Any, settings: Any,
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = []
    answers = {"hooks.example.test": "93.184.215.14"}
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: real(answers.get(host, host), port, *a, **k),
    )
    services.webhook_create(
        actor=reviewer, registered_model=risk_model, url="http://hooks.example.test/hook"
    )
    answers["hooks.example.test"] = address
    connected: list[Any] = []

    def record(pool: Any, *args: Any, **kwargs: Any) -> Any:
        connected.append(pool.host)
        raise AssertionError("connected to an internal address")

    monkeypatch.setattr(plain.urllib3.HTTPConnectionPool, "urlopen", record)

    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert connected == []
    assert delivery.status == DeliveryStatus.FAILED and address in delivery.error


def test_delivery_connects_to_the_checked_address_and_sends_the_name_as_host(
    receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """The check and the connection use one DNS answer: the name is resolved once per attempt,
    and the request still names the host it was meant for."""
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = ["hooks.internal.test"]
    lookups: list[str] = []
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return real("127.0.0.1" if host == "hooks.internal.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    url = f"http://hooks.internal.test:{receiver.port}/hook"
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=url)
    lookups.clear()

    [delivery] = _run_deliveries(
        django_capture_on_commit_callbacks, lambda: _approve(version, reviewer)
    )

    assert delivery.status == DeliveryStatus.DELIVERED
    assert lookups.count("hooks.internal.test") == 1
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.internal.test:{receiver.port}"


# --- Who manages webhooks ----------------------------------------------------------------------


def test_data_scientists_and_labelers_cannot_add_webhooks(
    risk_model: Any, owner: Any, labeler: Any, settings: Any
) -> None:
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    for person in (owner, labeler):
        with pytest.raises(Forbidden):
            services.webhook_create(
                actor=person, registered_model=risk_model, url="http://127.0.0.1/h"
            )


def test_webhook_changes_are_audited_without_the_query_string(
    receiver: Receiver, risk_model: Any, reviewer: Any
) -> None:
    webhook, _ = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url + "&token=hush"
    )
    services.webhook_delete(actor=reviewer, webhook=webhook)
    created, deleted = AuditEvent.objects.filter(action__startswith="webhook.").order_by("pk")
    assert created.action == "webhook.create" and deleted.action == "webhook.delete"
    assert created.payload["url"] == f"http://127.0.0.1:{receiver.port}/hooks/modelgate"
    assert "hush" not in json.dumps([created.payload, deleted.payload])
    assert not Webhook.objects.exists()


def test_api_creates_lists_and_deletes_webhooks_and_shows_the_secret_once(
    api: Any, receiver: Receiver, risk_model: Any, reviewer: Any
) -> None:
    client = api(reviewer)
    created = client.post(
        "/api/v1/models/credit-risk/webhooks/",
        {"url": receiver.url, "events": ["version.promoted", "model.rolled_back"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["version.promoted", "model.rolled_back"]
    assert "no-store" in created["Cache-Control"]
    listed = client.get("/api/v1/models/credit-risk/webhooks/").json()
    assert [w["id"] for w in listed] == [body["id"]]
    assert body["secret"] not in json.dumps(listed)
    gone = client.delete(f"/api/v1/models/credit-risk/webhooks/{body['id']}/")
    assert gone.status_code == 204
    assert client.get("/api/v1/models/credit-risk/webhooks/").json() == []


def test_api_refuses_an_internal_url_and_an_unknown_event_naming_the_field(
    api: Any, risk_model: Any, reviewer: Any, settings: Any
) -> None:
    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = []
    client = api(reviewer)
    internal = client.post(
        "/api/v1/models/credit-risk/webhooks/", {"url": "http://10.0.0.1/h"}, format="json"
    )
    assert internal.status_code == 400 and internal.json()["field"] == "url"
    assert "not a public address" in internal.json()["detail"]
    unknown = client.post(
        "/api/v1/models/credit-risk/webhooks/",
        {"url": "https://example.com/h", "events": ["version.deleted"]},
        format="json",
    )
    assert unknown.status_code == 400 and unknown.json()["field"] == "events"


def test_webhook_api_wrong_users(
    api: Any, receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, labeler: Any,
    outsider: Any,
) -> None:  # fmt: skip
    webhook, _ = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url
    )
    base = "/api/v1/models/credit-risk/webhooks/"
    for person, code in ((owner, 403), (labeler, 403), (outsider, 404)):
        client = api(person)
        assert client.get(base).status_code == code
        assert client.get(f"{base}{webhook.pk}/deliveries/").status_code == code
        assert client.post(base, {"url": receiver.url}, format="json").status_code == code
        assert client.delete(f"{base}{webhook.pk}/").status_code == code
    assert api(None).get(base).status_code == 401
    assert Webhook.objects.count() == 1


def test_model_page_shows_webhooks_and_deliveries_to_reviewers_only(
    client: Any, receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    receiver.codes = [500]
    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    _run_deliveries(django_capture_on_commit_callbacks, lambda: _approve(version, reviewer))

    client.force_login(reviewer)
    page = client.get("/models/credit-risk/").content.decode()
    assert "Webhooks (1)" in page and receiver.url.replace("&", "&amp;") in page
    assert "version.approved" in page and "delivered" in page and "HTTP 500" in page
    client.force_login(owner)
    page = client.get("/models/credit-risk/").content.decode()
    assert "Webhooks" not in page and str(receiver.port) not in page


def test_pages_create_a_webhook_show_its_secret_once_and_delete_it(
    client: Any, receiver: Receiver, risk_model: Any, reviewer: Any
) -> None:
    client.force_login(reviewer)
    assert client.get("/models/credit-risk/webhooks/new/").status_code == 200
    refused = client.post(
        "/models/credit-risk/webhooks/new/",
        {"url": "http://10.0.0.1/", "events": ["version.created"]},
    )
    assert refused.status_code == 400 and "not a public address" in refused.content.decode()
    created = client.post(
        "/models/credit-risk/webhooks/new/", {"url": receiver.url, "events": ["version.created"]}
    )
    assert created.status_code == 201 and "no-store" in created["Cache-Control"]
    webhook = Webhook.objects.get()
    secret = plain.decrypt_secret(webhook.secret_encrypted, secret_keys=[_secret_key()])
    assert secret in created.content.decode()
    assert secret not in client.get("/models/credit-risk/").content.decode()
    confirm = client.get(f"/models/credit-risk/webhooks/{webhook.pk}/delete/")
    assert confirm.status_code == 200
    deleted = client.post(f"/models/credit-risk/webhooks/{webhook.pk}/delete/")
    assert deleted.status_code == 302 and not Webhook.objects.exists()


def test_webhook_pages_wrong_users(
    client: Any, receiver: Receiver, risk_model: Any, reviewer: Any, owner: Any, outsider: Any
) -> None:
    webhook, _ = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url
    )
    for person, code in ((owner, 403), (outsider, 404)):
        client.force_login(person)
        assert client.get("/models/credit-risk/webhooks/new/").status_code == code
        assert (
            client.post(
                "/models/credit-risk/webhooks/new/",
                {"url": receiver.url, "events": ["version.created"]},
            ).status_code
            == code
        )
        assert client.post(f"/models/credit-risk/webhooks/{webhook.pk}/delete/").status_code == code
    assert Webhook.objects.count() == 1


def _secret_key() -> str:
    from django.conf import settings

    return settings.SECRET_KEY


# --- A real worker -----------------------------------------------------------------------------


@pytest.mark.worker
def test_worker_delivers_a_committed_event_retrying_a_500_after_a_backoff(
    transactional_db: Any, celery_worker_process: Any, settings: Any
) -> None:
    """The web process commits an approval; a separate Celery worker process (the configured
    broker, with MODELGATE_WEBHOOK_ALLOW_HOSTS=127.0.0.1 in its environment) delivers it, gets
    a 500, waits, and delivers again."""
    from django.db import transaction

    from tests.conftest import wait_for
    from tests.factories import member

    settings.MODELGATE_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    reviewer = member("rui", "reviewer", "risk")
    owner = member("dana", "data_scientist", "risk")
    version = ModelVersionFactory(
        registered_model__name="credit-risk",
        registered_model__team=reviewer.memberships.get().team,
        uploaded_by=owner,
    )
    receiver = Receiver([500])
    try:
        _, secret = services.webhook_create(
            actor=reviewer, registered_model=version.registered_model, url=receiver.url
        )
        with transaction.atomic():
            _approve(version, reviewer)
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).first(),
            timeout=60,
            what="the worker to deliver the webhook",
        )
    finally:
        receiver.close()
    assert delivery.attempts == 2
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 200]
    first, second = (dt_from(a["at"]) for a in delivery.attempt_log)
    assert (second - first).total_seconds() >= 1  # the backoff, not an immediate retry
    assert len(receiver.requests) == 2
    last = receiver.requests[-1]
    assert plain.verify_signature(
        secret=secret, header=last["headers"]["X-ModelGate-Signature"], body=last["body"]
    )


def dt_from(text: str) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text)


def _self_signed(host: str, directory: Any) -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_https_delivery_sends_the_name_as_sni_and_verifies_the_certificate(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connecting to the checked IP keeps TLS honest: the handshake names the host (SNI) and an
    untrusted certificate is refused, so pinning the address does not switch verification off."""
    import ssl

    cert, key = _self_signed("hooks.internal.test", tmp_path)
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client hangs up once it distrusts the certificate
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, p, *a, **k: real(
            "127.0.0.1" if host == "hooks.internal.test" else host, p, *a, **k
        ),
    )
    result = plain.deliver(
        url=f"https://hooks.internal.test:{port}/hook",
        body=b"{}",
        headers={},
        allow_hosts=["hooks.internal.test"],
        timeout_seconds=3,
    )
    thread.join(timeout=5)
    listener.close()
    assert server_names == ["hooks.internal.test"]
    assert result.status_code is None and "certificate" in result.error.lower()
    assert result.retryable


def test_api_lists_a_webhooks_deliveries_with_every_attempt(
    api: Any, receiver: Receiver, risk_model: Any, reviewer: Any, version: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    receiver.codes = [502]
    webhook, _ = services.webhook_create(
        actor=reviewer, registered_model=risk_model, url=receiver.url
    )
    _run_deliveries(django_capture_on_commit_callbacks, lambda: _approve(version, reviewer))
    response = api(reviewer).get(f"/api/v1/models/credit-risk/webhooks/{webhook.pk}/deliveries/")
    assert response.status_code == 200
    [delivery] = response.json()["results"]
    assert delivery["event"] == "version.approved" and delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [502, 200]
    other = api(reviewer).get("/api/v1/models/credit-risk/webhooks/999999/deliveries/")
    assert other.status_code == 404


def test_resend_command_queues_only_deliveries_that_stopped_moving(
    receiver: Receiver, risk_model: Any, reviewer: Any, version: Any, monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    import datetime as dt
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    services.webhook_create(actor=reviewer, registered_model=risk_model, url=receiver.url)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() - dt.timedelta(hours=3))
    _approve(version, reviewer)  # committed while the broker was down: never sent
    monkeypatch.setattr(timezone, "now", real_now)
    _approve(version, reviewer)  # just now: its task is still on its way
    stuck, fresh = WebhookDelivery.objects.order_by("pk")

    out = StringIO()
    # Run what the command queues in this process, as a worker would.
    monkeypatch.setattr(deliver_webhook, "delay", lambda **kw: deliver_webhook.apply(kwargs=kw))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("webhooks_resend", stdout=out)
    assert len(callbacks) == 1 and "Queued 1" in out.getvalue()
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == DeliveryStatus.DELIVERED and fresh.status == DeliveryStatus.QUEUED
    assert len(receiver.requests) == 1

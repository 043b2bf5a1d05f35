"""Real leak: every request through Django's test client keeps two ``weakref.finalize``.

``django.test.client.ClientHandler.__call__`` disconnects and reconnects
``close_old_connections`` to ``request_started`` and ``request_finished`` on each
request.  ``Signal.connect(weak=True)`` makes a ``weakref.finalize`` for the
receiver on every call, even when the receiver is already connected, and this
receiver is a module-level function that never dies: the finalizers stay in
``weakref.finalize._registry`` for the life of the process, two per request.
A third one per request (``got_request_exception.connect(self.store_exc_info)``)
lives as long as the client does.  Django REST framework's suite under
``--leakguard-all`` flags the tests that make requests (1.1 KiB and 15 objects
per run for ``BasicAuthTests::test_decoding_of_utf8_credentials``).

    /tmp/leakguard-realworld/djangorestframework/venv/bin/python -m pytest \
        -p no:cacheprovider -p no:django --leakguard-all \
        realworld/repros/test_real_django_client_signal_finalizers.py
    # at d22e553: test_request_through_the_test_client LEAKED 768 B and 12 objects
    # per run (three finalizers, allocated at django/dispatch/dispatcher.py:111),
    # test_signal_reconnected_per_call LEAKED 256 B and 4 objects per run (the
    # signal alone), test_no_request passes.
"""

from __future__ import annotations

import weakref

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        DATABASES={},
        INSTALLED_APPS=[],
    )
    django.setup()

from django.core.signals import request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

urlpatterns = [path("ping/", lambda request: HttpResponse("pong"))]
CLIENT = Client()


def test_request_through_the_test_client() -> None:
    assert CLIENT.get("/ping/").content == b"pong"


def test_signal_reconnected_per_call() -> None:
    before = len(weakref.finalize._registry)  # type: ignore[attr-defined]
    request_started.disconnect(close_old_connections)
    request_started.connect(close_old_connections)
    assert len(weakref.finalize._registry) == before + 1  # type: ignore[attr-defined]


def test_no_request() -> None:
    assert b"pong".upper() == b"PONG"

"""The web server refuses huge requests before reading them, logged in or not."""
from __future__ import annotations

import http.client
from urllib.parse import urlparse

import psutil
import pytest

pytestmark = pytest.mark.e2e


def test_huge_upload_is_refused_before_its_body_is_read(stack):
    url = urlparse(stack.url)
    web = psutil.Process(stack.procs["web"].pid)
    memory_before = web.memory_info().rss
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/apps/new/")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(2 * 1024 ** 3))  # announces 2 GB
    conn.endheaders()
    # and starts sending it: 64 KB, which the socket buffers take whole, so the send cannot
    # race the server's early answer and close (a larger send may meet a broken pipe).
    conn.send(b"x" * 64 * 1024)
    response = conn.getresponse()
    assert response.status == 413
    assert b"Uploads are limited to 66 MB" in response.read()
    conn.close()
    assert web.memory_info().rss - memory_before < 50 * 1024 * 1024

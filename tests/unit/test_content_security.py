"""The Content-Security-Policy holds only if no template brings script of its own: these check both."""

import re
from pathlib import Path

import pytest

from app.web.security import headers_for

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:-][\w:-]*)\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_carries_inline_script(template: Path):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to static/js/"
    assert not INLINE_HANDLER.search(text), "inline event handler: bind it from static/js/"
    assert not JS_URL.search(text), "javascript: URL"


def test_app_pages_allow_only_their_own_scripts():
    headers = dict(headers_for("/mailing/lists", https=False))
    policy = headers[b"content-security-policy"].decode()
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'self'" in policy
    assert "unsafe-eval" not in policy
    assert b"strict-transport-security" not in headers


def test_https_adds_strict_transport_security():
    headers = dict(headers_for("/", https=True))
    assert headers[b"strict-transport-security"].startswith(b"max-age=")


def test_only_the_api_docs_page_may_start_itself_inline():
    docs = dict(headers_for("/api/v1/docs", https=False))[b"content-security-policy"].decode()
    assert "script-src 'self' 'unsafe-inline'" in docs
    api = dict(headers_for("/api/v1/lists", https=False))[b"content-security-policy"].decode()
    assert "script-src 'self';" in api

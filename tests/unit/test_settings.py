import pytest

from app.settings import SettingsError, broker_database_url, load_settings


def test_defaults_are_safe_for_development(monkeypatch, tmp_path):
    monkeypatch.setenv("IGNITE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("IGNITE_ENV", "development")
    settings = load_settings()
    assert settings.base_url == "http://127.0.0.1:8000"
    assert not settings.secure_cookies
    assert len(settings.security.secret_key) >= 32


def test_development_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("IGNITE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("IGNITE_ENV", "development")
    first = load_settings().security.secret_key
    assert load_settings().security.secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_requires_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("IGNITE_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        load_settings()


def test_short_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings()


def test_https_base_url_turns_on_secure_cookies(monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://mail.example.com/")
    settings = load_settings()
    assert settings.secure_cookies
    assert settings.base_url == "https://mail.example.com"


def test_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("WORKER_PROCESSES", "many")
    with pytest.raises(SettingsError, match="WORKER_PROCESSES"):
        load_settings()


def test_the_broker_keeps_a_redis_database_of_its_own():
    assert broker_database_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/1"
    assert broker_database_url("redis://cache:6379") == "redis://cache:6379/1"
    assert broker_database_url("rediss://user:secret@cache:6380/15?ssl_cert_reqs=none") == (
        "rediss://user:secret@cache:6380/14?ssl_cert_reqs=none")
    assert broker_database_url("") == ""

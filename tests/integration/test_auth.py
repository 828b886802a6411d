"""Username/password authentication (RFC 1929) against dante (system user)
and microsocks (-u/-P): credentials from SOCKS5_USER/SOCKS5_PASSWORD and
from the proxy URL, with a password that needs percent-encoding."""

import pytest

from harness import DANTE_USER, MICRO_USER, client_script
from proxies import TEST_PASSWORD, TEST_PASSWORD_URL, TEST_USER

AUTH_PROXIES = [pytest.param(DANTE_USER, id="dante"),
                pytest.param(MICRO_USER, id="microsocks")]
ECHO = client_script("tcp_client.py", "203.0.113.7", 7, "--send", "auth\n")


def assert_echo_ok(client, r):
    assert r.rc == 0, r
    out = r.json()
    assert out["result"] == "ok", r
    assert out["received"] == "auth\n", r
    assert [a for _, a, _ in client.target_peers()] == ["203.0.113.1"]


def assert_refused(client, r):
    assert r.rc == 0, r
    assert r.json()["result"] == "EACCES", r
    assert client.target_peers() == []


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_credentials_from_environment(client, proxy):
    r = client.run_wrapped(ECHO, proxy=proxy, env={
        "SOCKS5_USER": TEST_USER, "SOCKS5_PASSWORD": TEST_PASSWORD})
    assert_echo_ok(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_credentials_from_url_with_percent_encoding(client, proxy):
    url = "socks5://%s:%s@%s" % (TEST_USER, TEST_PASSWORD_URL, proxy)
    r = client.run_wrapped(ECHO, proxy=url)
    assert_echo_ok(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_credentials_from_url_in_environment(client, proxy):
    url = "socks5://%s:%s@%s" % (TEST_USER, TEST_PASSWORD_URL, proxy)
    r = client.run_wrapped(ECHO, proxy=None, env={"SOCKS5_PROXY": url})
    assert_echo_ok(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_user_option_with_password_from_environment(client, proxy):
    r = client.run_wrapped(ECHO, proxy=proxy, opts=["-u", TEST_USER],
                           env={"SOCKS5_PASSWORD": TEST_PASSWORD})
    assert_echo_ok(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_curl_with_credentials(client, proxy):
    r = client.run_wrapped(
        ["curl", "-q", "-sS", "-m", "10", "http://203.0.113.7/"],
        proxy=proxy,
        env={"SOCKS5_USER": TEST_USER, "SOCKS5_PASSWORD": TEST_PASSWORD})
    assert r.rc == 0, r
    assert "peer 203.0.113.1 " in r.stdout, r


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_wrong_password_is_eacces(client, proxy):
    r = client.run_wrapped(ECHO, proxy=proxy, env={
        "SOCKS5_USER": TEST_USER, "SOCKS5_PASSWORD": "not" + TEST_PASSWORD})
    assert_refused(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_wrong_password_in_url_is_eacces(client, proxy):
    r = client.run_wrapped(ECHO, proxy="socks5://%s:wrong@%s" % (
        TEST_USER, proxy))
    assert_refused(client, r)


@pytest.mark.parametrize("proxy", AUTH_PROXIES)
def test_no_credentials_against_auth_only_server_is_eacces(client, proxy):
    r = client.run_wrapped(ECHO, proxy=proxy)
    assert_refused(client, r)

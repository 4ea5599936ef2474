"""Property tests of shared.redact: a planted secret never survives, whatever its shape, the name it is given or
the way the text around it is escaped; redacting is idempotent; ordinary text stays as it was."""

from __future__ import annotations

import json

from hypothesis import assume, given, settings, strategies as st

from shared.redact import _READABLE_QUERY, MASK, has_secret, redact, redact_url

#: A secret: 12+ characters a credential is made of (base64, base64url, hex, percent-encoding).
secrets = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-%", min_size=12,
                  max_size=60).filter(lambda s: not s.startswith("%"))
#: A query parameter's name: anything a URL allows there (not only the names redact knows).
param_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=1,
                      max_size=24).filter(lambda n: n.lower() not in _READABLE_QUERY)
hosts = st.sampled_from(["hooks.example.com", "h.example.org:8443", "127.0.0.1:7071", "[::1]:9000"])
quotes = st.sampled_from(["", '"', "'"])

CODE_NAMES = ("sig", "client_secret", "access_token", "account_key", "sas_token")
COLON_NAMES = ["sig", "client_secret", "password", "token", "access_token", "ClientSecret", "account_key",
               "sas_token"]


@settings(max_examples=150, deadline=None)
@given(secret=secrets, name=param_names, host=hosts, before=st.lists(param_names, max_size=2))
def test_a_query_value_of_any_name_is_masked_in_any_url(secret, name, host, before):
    assume(secret not in name and not any(secret in b for b in before))
    query = "&".join([f"{b}=v1" for b in before] + [f"{name}={secret}"])
    for text in (f"https://{host}/hook?{query}", f"POST https://{host}/x/y?{query} \"HTTP/1.1 200 OK\"",
                 json.dumps({"url": f"https://{host}/hook?{query}"}),
                 json.dumps({"url": f"https://{host}/hook?a=1&{query}"}, ensure_ascii=True).replace("&", "\\u0026")):
        out = redact(text)
        assert secret not in out, (text, out)
        assert redact(out) == out


@settings(max_examples=100, deadline=None)
@given(secret=secrets, host=hosts, prefix=st.sampled_from(["/services/T0001/B0002/", "/webhookb2/g@t/IncomingWebhook/",
                                                         "/webhook/", "/api/webhooks/123/", "/hooks/catch/1/",
                                                         "/trigger/ev/with/key/"]))
def test_a_secret_in_a_known_webhook_path_is_masked(secret, host, prefix):
    out = redact(f"POST https://{host}{prefix}{secret.replace('%', 'x')} failed")
    assert secret.replace('%', 'x') not in out and MASK in out


@settings(max_examples=100, deadline=None)
@given(secret=secrets, host=hosts)
def test_user_info_and_fragment_are_masked(secret, host):
    secret = secret.replace("/", "%2F")  # a '/' in user info is percent-encoded, or it starts the path
    for url in (f"https://user:{secret}@{host}/x", f"https://{secret}@{host}/x", f"https://{host}/x#{secret}"):
        assert secret not in redact(url) and secret not in redact_url(url)


@settings(max_examples=150, deadline=None)
@given(secret=secrets, name=st.sampled_from(COLON_NAMES + ["sig", "code", "api-key", "apikey",
                                                           "subscription-key", "x-functions-key"]),
       quote=quotes, space=st.sampled_from(["", " "]),
       sep=st.sampled_from(["?", "&", "\\u0026", "%26", " ", ""]),
       eq=st.sampled_from(["=", "%3D", "\\u003d"]))
def test_name_equals_value_is_masked_however_escaped_or_quoted(secret, name, quote, space, sep, eq):
    text = f"error{space or ' '}{sep}{name}{eq}{quote}{secret}{quote} end"  # a name starts after a separator
    out = redact(text)
    assert secret not in out, (text, out)


@settings(max_examples=150, deadline=None)
@given(secret=secrets, name=st.sampled_from(COLON_NAMES), quote=quotes, key_quote=quotes,
       space=st.sampled_from(["", " ", "  "]))
def test_name_colon_value_is_masked_quoted_or_not(secret, name, quote, key_quote, space):
    # unquoted, a lower-case word after "password:" is prose ("password: unknown field"), not a credential
    assume(quote or name in CODE_NAMES or not secret.isalpha() or not secret.islower())
    text = f"{{{key_quote}{name}{key_quote}:{space}{quote}{secret}{quote}, other: 1}}"
    out = redact(text)
    assert secret not in out, (text, out)
    assert has_secret(text) and not has_secret(out)


@settings(max_examples=100, deadline=None)
@given(secret=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=16,
                      max_size=64), prefix=st.sampled_from(["whsec_", "xoxb-", "ghp_"]), where=quotes)
def test_secrets_known_by_their_prefix_are_masked(secret, prefix, where):
    out = redact(f"secret_setting value {where}{prefix}{secret}{where} given")
    assert secret not in out


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .,/-()'", max_size=120))
def test_text_without_urls_or_assignments_is_left_alone(text):
    assert redact(text) == text


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12),
                     min_size=1, max_size=5))
def test_storage_urls_without_query_keep_their_path(path):
    url = "https://acct.blob.core.windows.net/" + "/".join(path)
    assert redact(url) == url


def test_azure_protocol_values_of_fixed_shape_stay_readable():
    url = "https://management.azure.com/x/jobs/j?api-version=2024-04-01&comp=block&restype=container"
    assert redact(url) == url
    assert redact("https://h/x?api-version=NOTADATE-secret") == "https://h/x?api-version=***"


def test_has_credential_is_narrower_than_has_secret():
    """Checks that refuse input (events, configuration) ask for a credential; a '#' or a plain query value in
    a URL is not one, though logs mask it."""
    from shared.redact import has_credential

    for text in ("https://acct.blob.core.windows.net/c/in#box/x.csv", "https://h.example.com/x?region=west"):
        assert has_secret(text) and not has_credential(text)
    for text in ("https://h/x?sig=abc", "https://u:p@h/x", "https://hooks.slack.com/services/T01/B02/xyz",
                 "whsec_abcdefghijkl", "client_secret: v"):
        assert has_credential(text), text

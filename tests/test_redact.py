"""shared.redact: every credential shape that can reach a message is masked; ordinary text is left alone."""

import pytest

from shared.redact import MASK, has_secret, redact

SIG = "Zk9vYmFyQmF6%2BcXV1eA%3D%3D"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.mark.parametrize("text, secret", [
    (f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sp=r&sig={SIG}", SIG),
    (f"sv=2022-11-02&ss=b&sig={SIG}", SIG),
    (f"sig={SIG}", SIG),
    (f"BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig={SIG}", SIG),
    (f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};EndpointSuffix=core.windows.net", KEY),
    ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=c2VjcmV0", "c2VjcmV0"),
    ("https://admin:hunter2pw@hooks.example.com/x", "hunter2pw"),
    ("https://hooks.example.com/api/x?code=FUNCKEY12345==&clientId=default", "FUNCKEY12345"),
    ("https%3A%2F%2Fh%2Fx%3Fsig%3DENCODEDSIG", "ENCODEDSIG"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "eyJzdWIiOiJ4In0"),
    ("x-functions-key: hostkeyvalue123", "hostkeyvalue123"),
    ('{"password": "pw-in-json", "user": "me"}', "pw-in-json"),
    ("{'client_secret': 'spsecret'}", "spsecret"),
    ("ClientSecret=abcsecret;TenantId=t", "abcsecret"),
])
def test_credentials_are_masked(text, secret):
    out = redact(text)
    assert secret not in out and MASK in out
    assert has_secret(text) and not has_secret(out)


@pytest.mark.parametrize("text", [
    "route 'heart': overrides.mini_batch_size: must be at least 1 and at most 1000000, got 0",
    "https://acct.blob.core.windows.net/scores/heart/2024-06-01/predictions.csv",
    "design=x&signal=3&encode=yes",
    "HTTP 404 BlobNotFound The specified blob does not exist.",
])
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text and not has_secret(text)


def test_non_strings_are_stringified():
    assert redact(ValueError(f"bad ?sig={SIG}")) == f"bad ?sig={MASK}"

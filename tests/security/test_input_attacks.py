"""Hostile input to the HTTP API of the running stack: source URLs that point inside (SSRF),
oversized, deeply nested and huge JSON, unicode tricks. Every one is a 4xx naming what is wrong
(never a 5xx), nothing is created, and the stack keeps answering.

The secure stack allow-lists loopback aliases on purpose (`localhost`, `127.1`, `0x7f000001`,
`2130706433`, `0177.0.0.1`): being on the list must not be enough when the name resolves inside.
Hostile *outputs* (foreign hosts, bombs, non-PNGs) are tested at the persist level in
tests/unit/workflow/test_output_attacks.py: the stand-in cannot be told to return them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.stack_state import MotoState

pytestmark = pytest.mark.security
BASE = "/api/car/marketplace"
USER = "dealer-inputs"

SSRF = {
    "http loopback": "http://127.0.0.1/car.jpg",
    "https loopback": "https://127.0.0.1/car.jpg",
    "cloud metadata": "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "link-local": "https://169.254.10.10/car.jpg",
    "private 10/8": "https://10.0.0.1/car.jpg",
    "private 172.16/12": "https://172.16.5.4/car.jpg",
    "private 192.168/16": "https://192.168.1.1/car.jpg",
    "carrier-grade NAT": "https://100.64.0.1/car.jpg",
    "unspecified": "https://0.0.0.0/car.jpg",
    "ipv6 loopback": "https://[::1]/car.jpg",
    "ipv6 link-local": "https://[fe80::1]/car.jpg",
    "ipv6 unique-local": "https://[fd00::1]/car.jpg",
    "ipv4-mapped ipv6": "https://[::ffff:127.0.0.1]/car.jpg",
    "ipv6 with zone": "https://[fe80::1%25eth0]/car.jpg",
    "file scheme": "file:///etc/passwd",
    "ftp scheme": "ftp://example.com/car.jpg",
    "data uri": "data:image/png;base64,iVBORw0KGgo=",
    "gopher scheme": "gopher://127.0.0.1:6379/_INFO",
    "javascript scheme": "javascript:alert(1)",
    "no scheme": "//localhost/car.jpg",
    "localhost (allow-listed, resolves to loopback)": "https://localhost/car.jpg",
    "localhost with trailing dot": "https://localhost./car.jpg",
    "upper-case scheme and host": "HTTPS://LOCALHOST/car.jpg",
    "localhost with port": "https://localhost:8443/car.jpg",
    "short ipv4 127.1 (allow-listed)": "https://127.1/car.jpg",
    "hex ipv4 0x7f000001 (allow-listed)": "https://0x7f000001/car.jpg",
    "decimal ipv4 2130706433 (allow-listed)": "https://2130706433/car.jpg",
    "octal ipv4 0177.0.0.1 (allow-listed)": "https://0177.0.0.1/car.jpg",
    "credentials": "https://user:secret@localhost/car.jpg",
    "credentials hiding the host": "https://images.example.com@127.0.0.1/car.jpg",
    "backslash confusion": "https://127.0.0.1\\@images.example.com/car.jpg",
    "percent-encoded host": "https://%6c%6f%63%61%6c%68%6f%73%74/car.jpg",
    "host not on the allow-list": "https://example.com/car.jpg",
    "empty host": "https:///car.jpg",
    "unclosed ipv6 bracket": "https://[::1/car.jpg",
    "bogus bracketed host": "https://[zz]/car.jpg",
    "NFKC-folding host": "https://\u2100/car.jpg",
    "over 4096 characters": "https://localhost/" + "a" * 4100,
}


@pytest.fixture(scope="module")
def client(secure_stack) -> Iterator[E2EClient]:
    client = E2EClient(str(secure_stack["base_url"]), user=USER)
    yield client
    client.close()


@pytest.fixture(scope="module")
def upload_url(client: E2EClient) -> str:
    return client.upload([jpeg_bytes(31)])[0]


@pytest.fixture
def untouched(secure_stack) -> Iterator[None]:
    """No batch appears for the attacking user, and the stack still answers afterwards."""
    moto = MotoState(str(secure_stack["moto_url"]))
    before = moto.query(f"OWNER#{USER}", "BATCH#")
    yield
    assert moto.query(f"OWNER#{USER}", "BATCH#") == before, "an attack created a batch"
    assert httpx.get(f"{secure_stack['base_url']}{BASE}/config", timeout=10).status_code == 200


def batch_body(**overrides: object) -> dict[str, object]:
    return {"sourceImageUrls": ["https://localhost/car.jpg"], "angles": ["front_0"], "colors": [], **overrides}


def assert_4xx_naming(answer: httpx.Response, field: str | None = None, status: int | None = 422) -> None:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    if status is not None:
        assert answer.status_code == status, (answer.status_code, answer.text[:300])
    if field is not None:
        assert answer.json()["error"]["field"] == field, answer.text[:300]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("url", list(SSRF.values()), ids=list(SSRF))
def test_given_a_source_url_pointing_inside_or_elsewhere_when_creating_a_batch_then_422_names_the_field(
    client: E2EClient, untouched, url: str
):
    answer = client.call("POST", f"{BASE}/batch", json=batch_body(sourceImageUrls=[url]))
    assert_4xx_naming(answer, "sourceImageUrls[0]")


@pytest.mark.timeout(120)
def test_given_a_good_upload_then_an_internal_url_when_creating_then_the_second_index_is_named(
    client: E2EClient, upload_url: str, untouched
):
    answer = client.call("POST", f"{BASE}/batch", json=batch_body(sourceImageUrls=[upload_url, "https://[::1]/x.jpg"]))
    assert_4xx_naming(answer, "sourceImageUrls[1]")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tamper", ["other bucket object", "path traversal", "not under uploads"])
def test_given_an_upload_url_bent_to_another_object_when_creating_then_422(
    client: E2EClient, upload_url: str, untouched, tamper: str
):
    base, _, rest = upload_url.partition("/uploads/")
    bent = {
        "other bucket object": upload_url.replace("/uploads/", "/batches/"),
        "path traversal": f"{base}/uploads/../batches/{rest}",
        "not under uploads": f"{base}/presets/last-good/angle_presets.csv",
    }[tamper]
    answer = client.call("POST", f"{BASE}/batch", json=batch_body(sourceImageUrls=[bent]))
    assert_4xx_naming(answer, "sourceImageUrls[0]")


def raw_post(client: E2EClient, path: str, content: bytes, content_type: str = "application/json") -> httpx.Response:
    return client.call("POST", path, content=content, headers={"content-type": content_type})


@pytest.mark.timeout(120)
def test_given_a_body_over_api_gateways_10_mb_when_posted_then_the_gateway_answers_413(client: E2EClient, untouched):
    answer = raw_post(client, f"{BASE}/batch", b'{"pad":"' + b"x" * (11 * 1024 * 1024) + b'"}')
    assert answer.status_code == 413


@pytest.mark.timeout(120)
@pytest.mark.parametrize("megabytes", [1, 5])
def test_given_a_json_body_of_some_megabytes_when_posted_then_the_handler_answers_4xx(
    client: E2EClient, untouched, megabytes: int
):
    padded = json.dumps(batch_body(pad="x" * (megabytes * 1024 * 1024 - 200))).encode()
    assert_4xx_naming(raw_post(client, f"{BASE}/batch", padded), "sourceImageUrls[0]")
    many = json.dumps(batch_body(angles=["front_0"] * (megabytes * 1024 * 1024 // 12))).encode()
    assert_4xx_naming(raw_post(client, f"{BASE}/batch", many), "angles")


def test_given_a_body_over_lambdas_6_mb_when_posted_then_api_gateway_refuses_it_before_any_code_runs(
    client: E2EClient, untouched
):
    # As on AWS: the HTTP API takes up to 10 MB, Lambda's event up to 6 MB; between the two Lambda
    # refuses the event and API Gateway answers 413. Nothing of ours runs, nothing changes.
    padded = json.dumps(batch_body(pad="x" * (9 * 1024 * 1024))).encode()
    answer = raw_post(client, f"{BASE}/batch", padded)
    assert (answer.status_code, answer.json()) == (413, {"message": "Request Too Long"})


NESTED = {
    "100k [": b"[" * 100_000,
    "100k {": b'{"a":' * 100_000,
    "1k [ inside angles": b'{"sourceImageUrls":["https://localhost/x"],"angles":' + b"[" * 1000 + b"]" * 1000 + b"}",
    "100k ] unbalanced": b"]" * 100_000,
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", [f"{BASE}/batch", f"{BASE}/uploads", f"{BASE}/batch/abc123/colorize"])
@pytest.mark.parametrize("body", list(NESTED.values()), ids=list(NESTED))
def test_given_deeply_nested_json_when_posted_then_422_not_500(client: E2EClient, untouched, path: str, body: bytes):
    assert_4xx_naming(raw_post(client, path, body), "body")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("field", "size"), [("angles", 100_000), ("colors", 100_000), ("sourceImageUrls", 100_000)])
def test_given_a_huge_array_when_creating_then_422_names_it(client: E2EClient, untouched, field: str, size: int):
    values = [f"k{i}" for i in range(size)] if field != "sourceImageUrls" else ["https://localhost/x.jpg"] * size
    assert_4xx_naming(client.call("POST", f"{BASE}/batch", json=batch_body(**{field: values})), field)


@pytest.mark.timeout(120)
def test_given_a_huge_uploads_request_when_posted_then_422_names_files(client: E2EClient, untouched):
    # ~3.5 MB: under Lambda's 6 MB event limit, so the handler itself must refuse it by name.
    files = [{"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}] * 50_000
    assert_4xx_naming(client.call("POST", f"{BASE}/uploads", json={"files": files}), "files")


TRICKS = {
    "cyrillic homoglyph": "fr\u043ent_0",
    "right-to-left override": "\u202efront_0",
    "zero-width space": "front_0\u200b",
    "zero-width joiner": "front\u200d_0",
    "NUL inside": "front\x000",
    "NUL at the end": "front_0\x00",
    "fullwidth letters": "\uff46\uff52\uff4f\uff4e\uff54_0",
    "trailing newline": "front_0\n",
    "combining accent": "front_0\u0301",
    "path traversal": "../../etc/passwd",
    "dynamodb key separator": "front_0#red_metallic",
    "lone surrogate": "\ud800",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("field", ["angles", "colors"])
@pytest.mark.parametrize("value", list(TRICKS.values()), ids=list(TRICKS))
def test_given_a_unicode_trick_in_a_preset_key_when_creating_then_422_names_it(
    client: E2EClient, untouched, field: str, value: str
):
    body = json.dumps(batch_body(**{field: [value]}), ensure_ascii=True).encode()
    assert_4xx_naming(raw_post(client, f"{BASE}/batch", body), f"{field}[0]")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("key", ["sourceImageUrl\u0455", "sourceImageUrls\u200b", "\u202esourceImageUrls",
                                 "sourceImageUrls\x00", "SOURCEIMAGEURLS"])
def test_given_a_unicode_trick_in_a_body_key_when_creating_then_the_real_field_is_missing(
    client: E2EClient, untouched, key: str
):
    body = json.dumps({key: ["https://localhost/x.jpg"], "angles": ["front_0"]}).encode()
    assert_4xx_naming(raw_post(client, f"{BASE}/batch", body), "sourceImageUrls")


BAD_BODIES = {
    "invalid utf-8": (b'{"sourceImageUrls":["\xff\xfe"],"angles":["front_0"]}', "application/json", 422),
    "NaN": (b'{"sourceImageUrls":["https://localhost/x"],"angles":["front_0"],"autoColorize":NaN}', "application/json", 422),
    "5000-digit number": (b'{"angles":["front_0"],"n":1' + b"0" * 5000 + b"}", "application/json", 422),
    "not json": (b"{not json", "application/json", 422),
    "text/plain": (b"hello", "text/plain", 415),
    "empty": (b"", "application/json", 422),
    "json null": (b"null", "application/json", 422),
    "json array": (b"[]", "application/json", 422),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("content", "content_type", "status"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_given_a_body_that_is_not_clean_json_when_posted_then_4xx_in_the_error_format(
    client: E2EClient, untouched, content: bytes, content_type: str, status: int
):
    answer = raw_post(client, f"{BASE}/batch", content, content_type)
    assert answer.status_code == status, answer.text[:300]
    assert set(answer.json()["error"]) >= {"code", "message"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("user", ["\u202eadmin", "dev user", "a" * 200, "../../x", "user\u200b"])
def test_given_a_hostile_dev_user_header_when_calling_then_422_names_it(secure_stack, untouched, user: str):
    answer = httpx.get(f"{secure_stack['base_url']}/api/gallery", headers={"X-Dev-User": user.encode("utf-8")}, timeout=10)
    assert_4xx_naming(answer, "X-Dev-User")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("batch_id", ["x" * 81, "..%2F..%2Fetc", "%00", "a%23b", "%E2%80%AE", "a b"])
def test_given_a_malformed_batch_id_when_read_then_4xx_not_500(client: E2EClient, untouched, batch_id: str):
    answer = client.call("GET", f"{BASE}/batch/{batch_id}")
    assert answer.status_code in (404, 422), (answer.status_code, answer.text[:300])

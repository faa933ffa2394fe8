"""Property tests of `marketplace.source_urls.check_source_url`: on any string (and any answer
the resolver may give) it returns or raises ValidationFailed naming the field, nothing else;
and whatever it accepts is https, credential-free, allow-listed and public-only, or one of this
stack's own uploads. (The CSV-parsing and prompt-building properties are in
tests/unit/presets/test_presets_properties.py.)"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import ValidationFailed
from tests.support.aws_resources import BUCKET
from tests.support.handler_env import SOURCE_URL_ALLOWED_HOSTS as ALLOWED

pytestmark = [pytest.mark.unit, pytest.mark.fuzz]

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(str)
SCOPED = st.tuples(st.ip_addresses(v=6).map(str), st.sampled_from(["eth0", "1", "lo"])).map("%".join)
ADDRESS_LISTS = st.lists(st.one_of(IPV4, IPV6, SCOPED), max_size=4)

TRICKY_HOSTS = ["localhost", "127.1", "0x7f000001", "2130706433", "[", "[::1", "::1]", "[zz]", "[v1.x]", "[::1]x",
                "\u2100", "a\uff0eb", "\u0130", "xn--", "%6c%6f", "exa\u200bmple.com", "[fe80::1%25eth0]"]
HOSTS = st.one_of(
    st.just(ALLOWED), st.just(ALLOWED.upper() + "."), st.sampled_from(TRICKY_HOSTS),
    IPV4, IPV6.map(lambda a: f"[{a}]"), st.text(max_size=30),
    st.text(alphabet="[]:%@./\\#?a1\u2100\uff0e", max_size=12),
    st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True),
)
URLISH = st.builds(
    lambda scheme, userinfo, host, port, path, query: f"{scheme}{userinfo}{host}{port}{path}{query}",
    st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "file://", "data:", "//", "", "https:/", "https:\\\\",
                     " https://", "javascript:", "gopher://"]),
    st.one_of(st.just(""), st.just("user:pw@"), st.just("@"), st.text(max_size=10).map(lambda t: t + "@")),
    HOSTS,
    st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(lambda t: ":" + t)),
    st.one_of(st.just("/car.jpg"), st.just(f"/{BUCKET}/uploads/abc.jpg"), st.just(f"/{BUCKET}/uploads/../x"),
              st.text(max_size=40).map(lambda t: "/" + t)),
    st.one_of(st.just(""), st.text(max_size=20).map(lambda t: "?" + t), st.just("#frag")),
)
OWN_UPLOADS = st.builds(
    lambda host, key: f"https://{host}/{key}",
    st.sampled_from([f"s3.amazonaws.com/{BUCKET}", f"{BUCKET}.s3.amazonaws.com", f"s3.us-east-1.amazonaws.com/{BUCKET}",
                     f"{BUCKET}.s3.us-east-1.amazonaws.com"]),
    st.one_of(st.just("uploads/abc.jpg"), st.text(max_size=30).map(lambda t: "uploads/" + t), st.text(max_size=30)),
)
ANY_URL = st.one_of(st.text(max_size=200), URLISH, OWN_UPLOADS, st.text(max_size=5000, alphabet="a:/%@[]."))


@SETTINGS
@given(url=ANY_URL, addresses=ADDRESS_LISTS)
def test_given_any_string_when_checked_as_a_source_url_then_only_validation_failed_naming_the_field_is_raised(
    aws, url: str, addresses: list[str]
):
    from marketplace.source_urls import check_source_url, own_upload_key

    try:
        check_source_url(url, field="sourceImageUrls[3]", resolver=lambda host: list(addresses))
    except ValidationFailed as error:
        assert error.field == "sourceImageUrls[3]"
        assert error.message
        return
    # Accepted: either one of our own uploads (which exist in S3: none do here), or a public allow-listed https URL.
    assert own_upload_key(url) is None, "an upload that does not exist must not be accepted"
    parts = urlsplit(url)
    assert parts.scheme == "https" and not parts.username and not parts.password
    assert (parts.hostname or "").rstrip(".").lower() == ALLOWED
    assert addresses and all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)


@SETTINGS
@given(address=st.one_of(IPV4, IPV6))
def test_given_an_allow_listed_host_when_it_resolves_then_it_is_accepted_only_if_public(aws, address: str):
    from marketplace.source_urls import check_source_url

    public = ipaddress.ip_address(address).is_global and not ipaddress.ip_address(address).is_multicast
    try:
        check_source_url(f"https://{ALLOWED}/car.jpg", field="f", resolver=lambda host: [address])
    except ValidationFailed:
        assert not public
    else:
        assert public

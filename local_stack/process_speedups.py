"""Costs of the standard library and botocore that are pure overhead in the stack's processes
(moto's and the stack's own, where the handlers run), cut while the stack runs. Each gives the
same results as the code it replaces; a test compares them.

- every HTTP message's headers go through the `email` package's feed parser, and every read of
  one through its surrogate check (``http_headers_split_directly``): `http.server` (moto's
  werkzeug server, the stack's invoke server) and `http.client` (urllib3, so every AWS answer
  botocore reads);
- botocore rebuilds its User-Agent header twice per request, cleaning each of its ~15 parts one
  character at a time (``user_agent_parts_cleaned_once``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .moto_speedups import replaced

# The characters `email`'s parser takes in a header's name (its `headerRE`, without the colon).
_HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")


@contextmanager
def http_headers_split_directly() -> Iterator[None]:
    """`http.server` (moto's werkzeug server) and `http.client` (urllib3's answers) read a
    message's header lines and hand them to the `email` package's feed parser: ~1 ms of CPU per
    request, most of the server's own work. Plain `Name: value` lines are split directly into the
    same `HTTPMessage` (the same names, values and order); any other line (a continuation, a name
    `email` would not take) sends the whole block to the feed parser, as before. Reading a header
    back (`get`, `items`: urllib3 and botocore read each several times) skips `email`'s check
    for surrogates, which text decoded from ISO-8859-1 cannot hold: the same values."""
    import email.parser
    import http.client
    from email._policybase import Compat32

    class PlainHeaders(Compat32):
        def header_fetch_parse(self, name: str, value: str) -> str:
            return value  # Compat32 returns it as is unless it holds surrogates

    plain = PlainHeaders()

    def direct(_original: Callable[..., Any]) -> Callable[..., Any]:
        def parse_headers(fp: Any, _class: Any = http.client.HTTPMessage) -> Any:
            lines = http.client._read_headers(fp)  # type: ignore[attr-defined] # its limits and errors
            message = _class(policy=plain)
            for line in lines:
                if line in (b"\r\n", b"\n", b""):
                    break
                name, colon, value = line.partition(b":")
                if not colon or not _HEADER_NAME.fullmatch(name):
                    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))
                message._headers.append((name.decode("iso-8859-1"),
                                         value.decode("iso-8859-1").lstrip(" \t").rstrip("\r\n")))
            message.set_payload("")  # as the feed parser leaves a header-only message
            return message

        return parse_headers

    with replaced([(http.client, "parse_headers")], direct):
        yield


@contextmanager
def user_agent_parts_cleaned_once() -> Iterator[None]:
    """botocore builds the User-Agent header twice per request (when the request is made and when
    it is sent) and passes each of its parts (SDK, OS, Python, config, features, ...) through
    `sanitize_user_agent_string_component`, a generator over every character: a tenth of the
    handlers' CPU in a batch. The function is pure and the parts are the same few strings on
    every request: each (part, allow_hash) is cleaned once."""
    import botocore.useragent as useragent

    def cleaned_once(original: Callable[[str, bool], str]) -> Callable[[str, bool], str]:
        return functools.lru_cache(maxsize=1024)(original)

    with replaced([(useragent, "sanitize_user_agent_string_component")], cleaned_once):
        yield


@contextmanager
def process_speedups() -> Iterator[None]:
    """Both, for one of the stack's processes."""
    with http_headers_split_directly(), user_agent_parts_cleaned_once():
        yield

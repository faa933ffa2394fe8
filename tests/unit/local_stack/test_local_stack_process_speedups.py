"""What every process of the stack speeds up (``local_stack.process_speedups``): the same
results as the code replaced, with the work done once."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.moto_speedups import SPEEDUP

pytestmark = pytest.mark.unit


HEADER_BLOCKS = [
    b"Host: 127.0.0.1:5000\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\nContent-Length: 12\r\n\r\n",
    b"A:b\r\nEmpty:\r\nSpaced:   value with  spaces \t\r\nA: again\r\n\r\n",
    b"Latin: caf\xe9\r\nColon: a:b:c\r\n\n",
    b"Folded: first\r\n  continued\r\nNext: x\r\n\r\n",  # a continuation line: the feed parser's
    b"No colon here\r\nName: v\r\n\r\n",
    b"Bad Name: v\r\n\r\n",
    b"\r\n",
]


def test_given_headers_split_directly_then_every_block_reads_as_the_feed_parser_reads_it() -> None:
    import email.parser
    import http.client
    import io

    from local_stack.process_speedups import http_headers_split_directly

    def read(block: bytes) -> tuple[Any, ...]:
        message = http.client.parse_headers(io.BytesIO(block + b"BODY"))
        return (type(message), message.items(), [message.get_all(k) for k in message], message.get("a"),
                message.get_payload(), [type(d) for d in message.defects])

    from unittest import mock

    expected = [read(block) for block in HEADER_BLOCKS]
    with http_headers_split_directly(), mock.patch("email.parser.Parser.parsestr", autospec=True,
                                                   side_effect=email.parser.Parser.parsestr) as fed:
        assert getattr(http.client.parse_headers, SPEEDUP, False)
        assert [read(block) for block in HEADER_BLOCKS] == expected
        assert fed.call_count == 3  # the continuation and the two names email would not take
        with pytest.raises(http.client.LineTooLong):
            http.client.parse_headers(io.BytesIO(b"X: " + b"y" * 70000 + b"\r\n\r\n"))
    assert not getattr(http.client.parse_headers, SPEEDUP, False)


def test_given_user_agent_parts_cleaned_once_then_the_header_is_botocores_and_each_part_is_cleaned_once() -> None:
    from unittest import mock

    import boto3
    import botocore.useragent as useragent
    from botocore.awsrequest import AWSResponse

    from local_stack.process_speedups import user_agent_parts_cleaned_once

    def user_agents(requests: int) -> list[bytes]:
        """The User-Agent of each request a new client sends (answered here, nothing leaves)."""
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        sent: list[bytes] = []

        def answer(request: Any, **_: Any) -> AWSResponse:
            sent.append(request.headers["User-Agent"])
            return AWSResponse("https://x", 200, {}, _Raw(b'{"TableNames": []}'))

        client.meta.events.register("before-send", answer)
        for _ in range(requests):
            client.list_tables()
        return sent

    original = useragent.sanitize_user_agent_string_component
    with mock.patch.object(useragent, "sanitize_user_agent_string_component", side_effect=original) as cleaned:
        expected = user_agents(5)
        per_five_requests = cleaned.call_count
        cleaned.reset_mock()
        with user_agent_parts_cleaned_once():
            assert user_agents(5) == expected
            assert user_agents(5) == expected
        assert 0 < cleaned.call_count <= per_five_requests / 5  # each part once, not twice per request
    assert useragent.sanitize_user_agent_string_component is original


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

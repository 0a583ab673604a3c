"""The inbound SMTP server's reading of a message's data (`data_read`): what aiosmtpd's line by
line DATA reads, however the bytes arrive, and nothing after the end of the data."""

from __future__ import annotations

import asyncio

import pytest

from integrations.smtp_inbound import data_read

LINE_LIMIT = 1001


def line_by_line(stream: bytes, *, size_limit: int | None = None) -> tuple[bytes, str | None, bytes]:
    """aiosmtpd's DATA, as the specification: lines up to a lone dot, a leading dot dropped.
    (data, error, what follows the end of the data)."""
    lines, position, size, error = [], 0, 0, None
    while True:
        end = stream.index(b"\r\n", position) + 2
        line, position = stream[position:end], end
        if line == b".\r\n":
            break
        size += len(line)
        if len(line) > LINE_LIMIT and error is None:
            error = "500 Line too long (see RFC5321 4.5.3.1.6)"
        if size_limit and size > size_limit and error is None:
            error = "552 Error: Too much mail data"
        lines.append(line[1:] if line.startswith(b".") else line)
    return (b"" if error else b"".join(lines)), error, stream[position:]


async def read_in_pieces(stream: bytes, cuts: list[int], *, size_limit: int | None = None
                         ) -> tuple[bytes, str | None, bytes]:
    reader = asyncio.StreamReader(limit=LINE_LIMIT)

    async def feed() -> None:
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            reader.feed_data(stream[start:end])
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.ensure_future(feed())
    data, error = await data_read(reader, size_limit=size_limit, line_limit=LINE_LIMIT)
    await feeding
    return data, error, await reader.read()


def body(lines: int, width: int = 76) -> bytes:
    return b"".join(b"%05d " % n + b"x" * (width - 8) + (b"." if n % 7 == 0 else b"=") + b"\r\n"
                    for n in range(lines))


STREAMS = [
    b"Hello\r\n.\r\nQUIT\r\n",
    b".\r\nQUIT\r\n",  # no data at all
    b"..leading dot\r\nends with a dot.\r\n.\r\nQUIT\r\n",
    b"a bare\n.\nnewline dot is data\r\n.\r\nRSET\r\n",
    b"dot then text\r\n.x\r\n..\r\n.\r\n",
    body(200) + b".\r\nMAIL FROM:<a@example.com>\r\n",
    b"x" * 5000 + b"\r\n.\r\n",  # a line too long
]


@pytest.mark.parametrize("stream", STREAMS)
def test_the_data_is_read_as_line_by_line_however_the_bytes_arrive(stream):
    expected = line_by_line(stream)
    for step in (1, 2, 3, 5, 7, 64, 1000, 4096, len(stream)):
        cuts = list(range(step, len(stream), step))
        assert asyncio.run(read_in_pieces(stream, cuts)) == expected, step


def test_every_cut_around_the_end_of_the_data_is_read_right():
    stream = body(30) + b".\r\nQUIT\r\n"
    end = len(body(30))
    for first in range(end - 6, end + 4):
        for second in range(first + 1, end + 5):
            assert asyncio.run(read_in_pieces(stream, [first, second])) == line_by_line(stream), (first, second)


def test_too_much_data_is_read_to_its_end_and_refused():
    stream = body(300) + b".\r\nQUIT\r\n"

    result = asyncio.run(read_in_pieces(stream, list(range(4096, len(stream), 4096)), size_limit=10_000))

    assert result == line_by_line(stream, size_limit=10_000) == (b"", "552 Error: Too much mail data", b"QUIT\r\n")


def test_the_longest_line_of_a_large_message_is_measured_as_of_a_small_one():
    from integrations.smtp_inbound import _longest_line

    large = body(20_000) + b"y" * 1500 + b"\r\n" + body(3)

    assert len(large) > 1 << 20
    assert _longest_line(large) == max(len(line) for line in large.split(b"\r\n")) + 2 == 1502
    assert _longest_line(body(3)) == 77

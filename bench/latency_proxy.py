"""A loopback HTTP/1.1 proxy that holds each request for a fixed delay before passing it on,
standing in for a round trip to a cloud bucket. The delay is paid per request, also on a
kept-alive connection (the kernel's netem, which would do this, is not available here).
Run as its own process, so that its CPU is counted apart from the client's:

    python -m bench.latency_proxy --port 8124 --upstream 8123 --delay-ms 20

It reads each request's head, and its body by `Content-Length` (clients of object stores
send no chunked requests), waits, then forwards it; responses flow back untouched.
"""

from __future__ import annotations

import argparse
import asyncio

HOST = "127.0.0.1"


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def requests(
    client: asyncio.StreamReader, server: asyncio.StreamWriter, delay: float
) -> None:
    """Forward the client's requests one at a time, each after `delay` seconds."""
    try:
        while True:
            head = await client.readuntil(b"\r\n\r\n")
            body = await client.readexactly(content_length(head))
            await asyncio.sleep(delay)
            server.write(head + body)
            await server.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        server.close()


def handler(upstream: int, delay: float):
    async def handle(client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            requests(client_reader, server_writer, delay), pipe(server_reader, client_writer)
        )

    return handle


async def serve(port: int, upstream: int, delay: float) -> None:
    server = await asyncio.start_server(handler(upstream, delay), HOST, port, limit=1 << 20)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.upstream, options.delay_ms / 1000))


if __name__ == "__main__":
    main()

"""A TCP proxy on loopback that adds a fixed delay before each connection reaches its
upstream, standing in for a network round trip. Both emulators close the connection after
every response, so the delay is paid once per request. Run as its own process:

    python -m bench.latency_proxy --port 8124 --upstream 8123 --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio

HOST = "127.0.0.1"


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def handler(upstream: int, delay: float):
    async def handle(client_reader, client_writer) -> None:
        await asyncio.sleep(delay)
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    return handle


async def serve(port: int, upstream: int, delay: float) -> None:
    server = await asyncio.start_server(handler(upstream, delay), HOST, port)
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

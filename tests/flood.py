"""A websocket application that sends FLOOD_MIB messages of 1 MiB as fast as it may,
for the server tests: `python -m tests.flood PORT` serves it with console/server.py."""

import sys

FLOOD_MIB = 192  # three times what the server may grow by while a slow client reads it


async def flood(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    message = bytes(1024 * 1024)
    for _ in range(FLOOD_MIB):
        await send({"type": "websocket.send", "bytes": message})
    # no close from here: daphne would drop a client that does not answer it in time,
    # with what the slow reader has not read yet; the client leaves once it has it all
    await receive()  # websocket.disconnect


if __name__ == "__main__":
    from console.server import WharfServer

    WharfServer(flood, endpoints=[f"tcp:port={sys.argv[1]}:interface=127.0.0.1"], verbosity=0).run()

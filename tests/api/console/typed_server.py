"""An MCP server whose tools take arguments of every JSON schema kind the console's "try it" form
generates a field for, and answer text, structured content and an image.

Run: python tests/api/console/typed_server.py (stdio)
"""
import struct
import zlib
from typing import Literal

from mcp.server.mcpserver import Image, MCPServer
from pydantic import BaseModel

server = MCPServer("typed-server", version="1.0.0")
COLOURS = {"red": (220, 38, 38), "green": (22, 163, 74), "blue": (37, 99, 235)}


class Described(BaseModel):
    name: str
    count: int
    ratio: float
    colour: str
    tags: list[str]
    options: dict
    types: list[str]


@server.tool()
def describe(name: str, count: int, ratio: float, colour: Literal["red", "green", "blue"], shout: bool = False,
             tags: list[str] | None = None, options: dict | None = None) -> Described:
    """Answer the arguments back with their JSON types (structured output)."""
    return Described(name=name.upper() if shout else name, count=count, ratio=ratio, colour=colour, tags=tags or [],
                     options=options or {}, types=[type(value).__name__ for value in (name, count, ratio, colour, shout)])


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@server.tool()
def swatch(colour: Literal["red", "green", "blue"], size: int = 16) -> Image:
    """A square image of the colour."""
    return Image(data=png(size, size, COLOURS[colour]), format="png")


if __name__ == "__main__":
    server.run()

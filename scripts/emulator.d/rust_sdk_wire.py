"""CBOR exactly as the Rust SDK writes it, and a strict reader that sees what the Rust SDK sees.

`encode_like_rust_sdk` mirrors `aws-smithy-cbor`'s default serializer: maps and arrays of
indefinite length (0xbf/0x9f ... 0xff), doubles always as float64, timestamps as tag 1
followed by a float64 of epoch seconds, blobs as byte strings.

`decode_strict` keeps the distinctions the Rust decoder is strict about and `cbor2.loads`
hides: an integer stays `int` and a float stays `float` (the SDK rejects an int where it
reads a double), and a tag stays a `Tagged` (so a test can require tag 1 on timestamps).
"""

from __future__ import annotations

import datetime as _dt
import struct
from typing import Any, NamedTuple


class Tagged(NamedTuple):
    """A CBOR tagged value, kept as such."""

    tag: int
    value: Any


def encode_like_rust_sdk(value: Any) -> bytes:
    """Encode `value` the way the Rust SDK encodes a request body."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _head(major: int, length: int, out: bytearray) -> None:
    if length < 24:
        out.append(major << 5 | length)
    elif length < 0x100:
        out += bytes([major << 5 | 24, length])
    elif length < 0x10000:
        out.append(major << 5 | 25)
        out += struct.pack(">H", length)
    elif length < 0x100000000:
        out.append(major << 5 | 26)
        out += struct.pack(">I", length)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", length)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _head(0, value, out)
        else:
            _head(1, -1 - value, out)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, _dt.datetime):
        out.append(0xC1)  # tag 1: epoch seconds
        _encode(value.timestamp(), out)
    elif isinstance(value, Tagged):
        _head(6, value.tag, out)
        _encode(value.value, out)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _head(3, len(data), out)
        out += data
    elif isinstance(value, (bytes, bytearray)):
        _head(2, len(value), out)
        out += value
    elif isinstance(value, (list, tuple)):
        out.append(0x9F)
        for item in value:
            _encode(item, out)
        out.append(0xFF)
    elif isinstance(value, dict):
        out.append(0xBF)
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
        out.append(0xFF)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


_BREAK = object()


def decode_strict(data: bytes) -> Any:
    """Decode one CBOR item that must span all of `data`."""
    value, end = _decode(data, 0)
    if value is _BREAK:
        raise ValueError("unexpected break at the top level")
    if end != len(data):
        raise ValueError(f"{len(data) - end} trailing bytes after the CBOR item")
    return value


def _argument(data: bytes, pos: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, pos
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        size = sizes[info]
        return int.from_bytes(data[pos : pos + size], "big"), pos + size
    if info == 31:
        return None, pos  # indefinite length
    raise ValueError(f"reserved additional information {info}")


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    initial = data[pos]
    pos += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        return _decode_simple(data, pos, info)
    argument, pos = _argument(data, pos, info)
    if major == 0:
        return argument, pos
    if major == 1:
        return -1 - argument, pos
    if major in (2, 3):
        if argument is None:
            chunks = []
            while True:
                chunk, pos = _decode(data, pos)
                if chunk is _BREAK:
                    break
                chunks.append(chunk)
            joined = (b"" if major == 2 else "").join(chunks)
            return joined, pos
        raw = data[pos : pos + argument]
        return (raw if major == 2 else raw.decode("utf-8")), pos + argument
    if major == 4:
        items = []
        while argument is None or len(items) < argument:
            item, pos = _decode(data, pos)
            if item is _BREAK:
                break
            items.append(item)
        return items, pos
    if major == 5:
        entries = {}
        while argument is None or len(entries) < argument:
            key, pos = _decode(data, pos)
            if key is _BREAK:
                break
            entries[key], pos = _decode(data, pos)
        return entries, pos
    item, pos = _decode(data, pos)  # major 6: tag
    return Tagged(argument, item), pos


def _decode_simple(data: bytes, pos: int, info: int) -> tuple[Any, int]:
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info in (22, 23):
        return None, pos
    if info == 25:
        return struct.unpack(">e", data[pos : pos + 2])[0], pos + 2
    if info == 26:
        return struct.unpack(">f", data[pos : pos + 4])[0], pos + 4
    if info == 27:
        return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
    if info == 31:
        return _BREAK, pos
    raise ValueError(f"unsupported simple value {info}")

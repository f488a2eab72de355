"""Text subtitle packets re-wrapped for containers that hold another text codec (plan.py decides which).

MP4/MOV hold only mov_text (tx3g: a 16-bit length, then UTF-8); Matroska holds SubRip and ASS; WebM
holds WebVTT, whose packets are the cue text.
Converting between them is a change of framing, not of content, so it needs no decoder.
"""
from __future__ import annotations

import re
import struct

TEXT_CODECS = {"subrip", "srt", "ass", "ssa", "mov_text", "text", "webvtt"}
_ASS_OVERRIDE = re.compile(r"\{[^}]*\}")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def packet_text(payload: bytes, codec: str) -> str:
    """The plain text of one subtitle packet."""
    if codec == "mov_text":
        (n,) = struct.unpack(">H", payload[:2]) if len(payload) >= 2 else (0,)
        return payload[2:2 + n].decode("utf-8", "replace")
    text = payload.decode("utf-8", "replace")
    if codec in ("ass", "ssa"):
        fields = text.split(",", 8)  # Matroska ASS: ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        text = fields[-1] if len(fields) == 9 else text
        text = _ASS_OVERRIDE.sub("", text).replace("\\N", "\n").replace("\\n", "\n")
    return _HTML_TAG.sub("", text)


def convert_packet(payload: bytes, src_codec: str, dst_codec: str) -> bytes:
    text = packet_text(payload, src_codec).encode("utf-8")
    if dst_codec == "mov_text":
        return struct.pack(">H", len(text)) + text
    return text

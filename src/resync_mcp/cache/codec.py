"""How cache records are stored in Redis: JSON only (never pickle), AES-GCM when keyed.

    b"J1" + json                      plain
    b"E1" + nonce(12) + ciphertext    AES-256-GCM over the JSON, bound to the record's key

Anything that does not decode (wrong version, tampered, wrong key, bad JSON) is a
CodecError, which the L2 treats as a miss.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class CodecError(ValueError):
    pass


class Codec:
    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) != 32:
            raise ValueError("the L2 encryption key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key) if key is not None else None

    @property
    def encrypted(self) -> bool:
        return self._aead is not None

    def encode(self, record: dict[str, Any], aad: str) -> bytes:
        raw = json.dumps(record, separators=(",", ":")).encode()
        if self._aead is None:
            return b"J1" + raw
        nonce = os.urandom(12)
        return b"E1" + nonce + self._aead.encrypt(nonce, raw, aad.encode())

    def decode(self, blob: bytes, aad: str) -> dict[str, Any]:
        """Raises CodecError for anything that is not a record this codec wrote."""
        try:
            if blob[:2] == b"E1":
                if self._aead is None:
                    raise CodecError("encrypted record but no key configured")
                raw = self._aead.decrypt(blob[2:14], blob[14:], aad.encode())
            elif blob[:2] == b"J1":
                if self._aead is not None:
                    raise CodecError("plain record where encryption is required")
                raw = blob[2:]
            else:
                raise CodecError("unknown record format")
            data = json.loads(raw)
        except (InvalidTag, ValueError, UnicodeDecodeError) as exc:
            raise CodecError(str(exc) or type(exc).__name__) from None
        if not isinstance(data, dict):
            raise CodecError("record is not an object")
        return data

"""Envelope encryption for audit payloads and Ed25519 for checkpoints.

A data key per (subject, epoch) encrypts that subject's records with AES-256-GCM; the data
key is stored only wrapped by the key-encryption key (KEK). Destroying a subject's wrapped
keys (crypto-shredding) makes its records undecryptable while the chain, which hashes the
ciphertext, still verifies. The record's position (seq) and key id are bound in as AAD, so
a ciphertext moved to another record does not decrypt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyUnavailable(Exception):
    """The data key is gone (shredded) or the KEK does not open it."""


@functools.lru_cache(maxsize=4096)  # every record asks it for its subject's key
def subject_tag(subject: str) -> str:
    """A stable, non-reversible tag for a subject: key ids never show who the subject is."""
    return hashlib.sha256(b"resync-audit-subject\n" + subject.encode()).hexdigest()[:16]


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: bytes, key_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, key_id.encode())


def unwrap(kek: bytes, key_id: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], key_id.encode())
    except (InvalidTag, ValueError) as exc:
        raise KeyUnavailable(f"data key {key_id} does not open with this KEK") from exc


def seal(
    data_key: bytes, seq: int, key_id: str, plaintext: bytes, bound: str = "", nonce: bytes | None = None
) -> tuple[str, str]:
    """``bound`` (the row's kind and time) is authenticated with the ciphertext: a record's
    plaintext header cannot be changed and relinked without the ciphertext failing to open.
    ``nonce``: 12 random bytes (``nonces`` draws a batch's in one call), else drawn here."""
    if nonce is None or len(nonce) != 12:
        nonce = os.urandom(12)
    ct = _sealer(data_key).encrypt(nonce, plaintext, _aad(seq, key_id, bound))
    return base64.b64encode(nonce).decode(), base64.b64encode(ct).decode()


def nonces(count: int) -> list[bytes]:
    """``count`` random 96-bit nonces from one read of the OS's generator: the same randomness
    as one read each, without a system call per record (several microseconds each here)."""
    pool = os.urandom(12 * count)
    return [pool[i : i + 12] for i in range(0, 12 * count, 12)]


@functools.lru_cache(maxsize=64)
def _sealer(data_key: bytes) -> AESGCM:
    """A cipher per data key, set up once: every audit record is sealed. Shredding clears it."""
    return AESGCM(data_key)


def forget_keys() -> None:
    """Drop the ciphers kept for sealing (after a shred: no key material outlives its wrap)."""
    _sealer.cache_clear()


def _aad(seq: int, key_id: str, bound: str) -> bytes:
    return f"{seq}|{key_id}|{bound}".encode() if bound else f"{seq}|{key_id}".encode()


def open_sealed(data_key: bytes, seq: int, key_id: str, nonce_b64: str, ct_b64: str, bound: str = "") -> bytes:
    """Records written before headers were bound open without ``bound``; a bound record never
    does (its tag covers the longer AAD), so the fallback cannot hide a changed header."""
    try:
        nonce, ct = base64.b64decode(nonce_b64), base64.b64decode(ct_b64)
    except ValueError as exc:
        raise KeyUnavailable(f"record {seq} does not decrypt") from exc
    for aad in dict.fromkeys([_aad(seq, key_id, bound), _aad(seq, key_id, "")]):
        try:
            return AESGCM(data_key).decrypt(nonce, ct, aad)
        except (InvalidTag, ValueError):
            continue
    raise KeyUnavailable(f"record {seq} does not decrypt")


# ------------------------------------------------------------------ checkpoint signatures
def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The checkpoint signing key; created (0600) on first use when the file does not exist."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if create_once(path, pem) != pem:  # another process created it first: use theirs
        return load_or_create_signing_key(path)
    return key


def create_once(path: Path, data: bytes) -> bytes:
    """Write a new secret file (0600, folder 0700) unless one exists; returns what the file holds.

    Two servers starting together on one folder must end up with the same key: the content is
    written and fsync'd under a private name, then linked into place, which only one can do.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        os.unlink(tmp)
    return data


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def verify_signature(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def load_or_create_kek(path: Path) -> bytes:
    """A KEK kept beside the data when none is configured: fine for a demo, not for production."""
    if path.exists():
        key = base64.b64decode(path.read_text().strip())
        if len(key) != 32:
            raise ValueError(f"{path} does not hold 32 bytes of base64")
        return key
    key = os.urandom(32)
    stored = create_once(path, base64.b64encode(key))
    return base64.b64decode(stored.strip())

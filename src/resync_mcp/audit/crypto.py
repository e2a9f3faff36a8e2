"""Envelope encryption for audit payloads and Ed25519 for checkpoints.

A data key per (subject, epoch) encrypts that subject's records with AES-256-GCM; the data
key is stored only wrapped by the key-encryption key (KEK). Destroying a subject's wrapped
keys (crypto-shredding) makes its records undecryptable while the chain, which hashes the
ciphertext, still verifies. The record's position (seq) and key id are bound in as AAD, so
a ciphertext moved to another record does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyUnavailable(Exception):
    """The data key is gone (shredded) or the KEK does not open it."""


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


def seal(data_key: bytes, seq: int, key_id: str, plaintext: bytes) -> tuple[str, str]:
    nonce = os.urandom(12)
    ct = AESGCM(data_key).encrypt(nonce, plaintext, f"{seq}|{key_id}".encode())
    return base64.b64encode(nonce).decode(), base64.b64encode(ct).decode()


def open_sealed(data_key: bytes, seq: int, key_id: str, nonce_b64: str, ct_b64: str) -> bytes:
    try:
        return AESGCM(data_key).decrypt(
            base64.b64decode(nonce_b64), base64.b64decode(ct_b64), f"{seq}|{key_id}".encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise KeyUnavailable(f"record {seq} does not decrypt") from exc


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode())
    return key

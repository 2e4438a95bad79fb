"""Encryption at rest for secrets the gateway must be able to read back (key secrets, channel tokens)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Authenticated symmetric encryption (Fernet) with the gateway's master key.

    Several comma-separated keys may be configured: the first encrypts, all decrypt, so
    the master key can be rotated without a downtime.
    """

    def __init__(self, master_keys: str) -> None:
        keys = [Fernet(key.strip()) for key in master_keys.split(",") if key.strip()]
        if not keys:
            raise ValueError("at least one master key is required")
        self._fernet = MultiFernet(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise ValueError("ciphertext does not decrypt with the configured master keys") from error

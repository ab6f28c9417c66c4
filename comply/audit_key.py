"""The per-installation Ed25519 key that signs audit rows and checkpoints, kept outside the data folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comply.config import Settings


class AuditKeyError(RuntimeError):
    """The audit key is missing where it must exist, or cannot be read."""


def default_key_file(data_dir: Path) -> Path:
    """``~/.config/comply/audit-<hash of the resolved data folder>.key`` (``XDG_CONFIG_HOME`` respected)."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    tag = hashlib.sha256(str(data_dir.resolve()).encode("utf-8")).hexdigest()[:16]
    return config / "comply" / f"audit-{tag}.key"


def key_file(settings: Settings) -> Path:
    """The key file of these settings: ``audit_key_file``, else the default for the data folder."""
    return settings.audit_key_file or default_key_file(settings.data_dir)


class AuditKey:
    """An Ed25519 private key: signs text, checks signatures, shows its public half."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._public = private.public_key()

    def sign(self, text: str) -> str:
        """The signature of ``text`` (UTF-8), in hex."""
        return self._private.sign(text.encode("utf-8")).hex()

    def verifies(self, text: str, signature: str) -> bool:
        """Whether ``signature`` (hex) is this key's signature of ``text``."""
        try:
            self._public.verify(bytes.fromhex(signature), text.encode("utf-8"))
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_pem(self) -> bytes:
        """The public key in PEM, for verifying an export without the private key."""
        return self._public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


_CACHE: dict[Path, tuple[int, AuditKey]] = {}


def load_key(path: Path) -> AuditKey | None:
    """The key stored at ``path``; None when there is no such file."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"无法读取审计签名密钥 {path}：{exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise AuditKeyError(f"审计签名密钥 {path} 不是 Ed25519 私钥")
    _CACHE[path] = (stamp, AuditKey(private))
    return _CACHE[path][1]


def create_key(path: Path) -> AuditKey:
    """Generate a key at ``path`` (folder 0700, file 0600); a key already there is kept and returned."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return require_key(path)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return AuditKey(private)


def require_key(path: Path) -> AuditKey:
    """The key stored at ``path``; :class:`AuditKeyError` when it is missing."""
    key = load_key(path)
    if key is None:
        raise AuditKeyError(f"审计签名密钥 {path} 缺失：请恢复该文件，或在设置 audit_key_file 中指明它的位置")
    return key

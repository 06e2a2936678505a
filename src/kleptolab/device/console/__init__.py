"""The admin console: accounts and ``auth_admin_internal``, the CLI, Telnet and SSH servers."""

from kleptolab.device.console.accounts import (
    BACKDOOR_USER,
    AdminAccount,
    AuthResult,
    auth_admin_internal,
    hash_password,
    verify_password,
)
from kleptolab.device.console.cli import CliReply, CliSession, DeviceView, SessionInfo, SystemInfo
from kleptolab.device.console.service import AdminService, ConsoleLimits

__all__ = [
    "BACKDOOR_USER",
    "AdminAccount",
    "AdminService",
    "AuthResult",
    "CliReply",
    "CliSession",
    "ConsoleLimits",
    "DeviceView",
    "SessionInfo",
    "SystemInfo",
    "auth_admin_internal",
    "hash_password",
    "verify_password",
]

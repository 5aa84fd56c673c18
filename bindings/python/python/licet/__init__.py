"""Verify licet license tokens offline, and activate and check in with a licet server.

>>> import licet
>>> keys = licet.Keys.from_pem(open("vendor.pem").read())       # doctest: +SKIP
>>> lic = licet.verify(token, keys, product="acme-pro")           # doctest: +SKIP
>>> lic.license_id, lic.expires_at, lic.has_entitlement("pro")    # doctest: +SKIP

A refusal raises :class:`licet.Refused`; its ``code`` is the verifier's stable code.
"""

from ._errors import (
    Error,
    InvalidArgument,
    Refused,
    StateError,
    Unreachable,
    Untrusted,
)
from ._licet import (
    Client,
    Keys,
    License,
    OfflineRequest,
    Receipt,
    RevocationList,
    Status,
    __version__,
    inspect,
    machine_fingerprint,
    verify,
    verify_offline_response,
    verify_possession,
)

__all__ = [
    "Client",
    "Error",
    "InvalidArgument",
    "Keys",
    "License",
    "OfflineRequest",
    "Receipt",
    "Refused",
    "RevocationList",
    "StateError",
    "Status",
    "Unreachable",
    "Untrusted",
    "__version__",
    "inspect",
    "machine_fingerprint",
    "verify",
    "verify_offline_response",
    "verify_possession",
]

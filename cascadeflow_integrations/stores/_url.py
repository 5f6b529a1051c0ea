"""Redis URLs: which strings are one, their form without secrets (for logs, reprs, errors), and checking them.

A malformed URL is where a password ends up somewhere unexpected (an unencoded `/` moves half of it into
the path, `redis://user:PW` parses PW as the port), so the redacted form is built only from parts that
have the shape of a host, a port, a database number or a socket path; anything else is a placeholder.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import ConfigError

SCHEMES = ("redis", "rediss", "unix")
EXAMPLE = "'redis://localhost:6379/0'"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_PATH = re.compile(r"/[A-Za-z0-9._/-]{1,1000}")  # shown as is; other socket paths are usable, not shown
_DB = re.compile(r"(?:^|&)db=(\d{1,6})(?:&|$)")
_ENCODE = "percent-encode the password: urllib.parse.quote(password, safe='')"


def is_redis_url(spec: object) -> bool:
    """True for a string that starts with a Redis scheme (any case) and `://`."""
    if not isinstance(spec, str):
        return False
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def _parts(url: str) -> tuple[str, str | None, str | None]:
    """(redacted form, scheme, problem): problem is None for a usable URL; nothing secret in any of them."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        head = url.split(":", 1)[0]
        shown = f"{head.lower()}:..." if _SCHEME.fullmatch(head) and ":" in url else "..."
        return shown, None, "it has no '://'"
    if not _SCHEME.fullmatch(scheme):
        return "...://...", None, "it has no scheme"
    scheme = scheme.lower()
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        if any(c in userinfo for c in "/?#[]"):  # parsers disagree on where such a password ends
            return f"{scheme}://<redacted>", scheme, f"the user or password holds '/', '?', '#', '[' or ']' ({_ENCODE})"
    location, _, query = rest.partition("?")
    location = location.partition("#")[0]
    db = _DB.search(query.partition("#")[0])
    if scheme == "unix":
        shown = f"unix://{location if _PATH.fullmatch(location) else '<path>'}"
        shown += f"?db={db.group(1)}" if db else ""
        ok = location.startswith("/") and len(location) > 1
        return shown, scheme, None if ok else "it needs the socket's absolute path, e.g. 'unix:///run/redis.sock'"
    hostport, slash, path = location.partition("/")
    host, port = hostport, ""
    if hostport.startswith("["):
        host, bracket, after = hostport.partition("]")
        host += bracket
        port = after[1:] if after.startswith(":") else after or ""
        if not bracket or (after and not after.startswith(":")):
            host = "<invalid>"
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    problems = []
    if host and not _HOST.fullmatch(host):
        host = "<host>"
        problems.append("the host is not a host name or address")
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        port = "<port>"
        problems.append("the port is not a number from 1 to 65535 (a password goes before the host: "
                        "redis://:PASSWORD@host:6379/0)")
    if path and not (path.isascii() and path.isdigit()):
        path = "<db>"
        problems.append("the path is not a database number such as /0")
    shown = f"{scheme}://{host or 'localhost'}:{port or 6379}" + (f"/{path}" if slash and path else "")
    if not problems:
        try:  # what redis-py will parse: a URL it cannot would fail at the first command, quoting parts of it
            urlsplit(url).port
        except ValueError:
            problems.append(f"it cannot be parsed ({_ENCODE})")
    return shown, scheme, "; ".join(problems) or None


def redacted_url(url: object) -> str:
    """`url` without its user, password and query (they never reach logs, reprs or errors); never raises."""
    if not isinstance(url, str):
        return f"<{type(url).__name__}>"
    return _parts(url)[0]


def check_redis_url(url: object, owner: str = "RedisStore") -> str:
    """The URL's redacted form, or a ConfigError (a ValueError) naming the problem and the fix (never the password)."""
    if not isinstance(url, str):
        raise ConfigError(f"{owner} url must be a string such as {EXAMPLE}, got {type(url).__name__}")
    shown, scheme, problem = _parts(url)
    if scheme not in SCHEMES:
        got = f"scheme {scheme!r}" if scheme else problem
        raise ConfigError(f"{owner} url {shown!r} is not a Redis URL ({got}): it must start with redis://, "
                         f"rediss:// or unix://, e.g. {EXAMPLE}")
    if problem is not None:
        raise ConfigError(f"{owner} url {shown!r} cannot be used: {problem}")
    return shown

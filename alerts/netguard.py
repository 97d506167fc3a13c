"""SSRF guard for webhook URLs (OWASP API7).

A webhook URL is refused when its host is, or resolves to, an address that is not globally
routable: loopback, link-local (incl. 169.254.169.254 cloud metadata), private (RFC 1918,
fc00::/7), carrier-grade NAT, unspecified, multicast, reserved — unless the address lies in a
network an administrator allowed with ``ALERTS_WEBHOOK_ALLOWED_NETWORKS`` (CIDRs).

It is checked when a channel is saved (``check_url``) and again when a notification is sent:
``GuardedHTTPConnection`` checks the address the socket actually connected to, so a DNS name
that re-resolves to a private address between save and send (DNS rebinding) is refused too.
Redirects are never followed (http.client does not follow them).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

ALLOWED_SCHEMES = ("http", "https")


class UnsafeURL(ValueError):
    """The URL may not be used as a webhook target."""


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in getattr(settings, "ALERTS_WEBHOOK_ALLOWED_NETWORKS", []) or []:
        networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
    return networks


def _normalise(ip: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def is_address_allowed(address: str) -> bool:
    """May we connect to this IP address?"""
    try:
        ip = _normalise(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    if any(ip in network for network in allowed_networks() if network.version == ip.version):
        return True
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host!r} cannot be resolved: {exc}") from None
    return sorted({info[4][0] for info in infos})


def parse(url: str) -> tuple[str, str, int, str]:
    """scheme, host, port, path+query of a URL that passes the static checks."""
    parts = urlsplit(url or "")
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL("Only http:// and https:// webhook URLs are allowed.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The URL has an invalid port.") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, host, port, path


def check_url(url: str) -> list[str]:
    """Raise ``UnsafeURL`` unless every address the URL's host resolves to is allowed."""
    _scheme, host, port, _path = parse(url)
    addresses = resolve(host, port)
    refused = [a for a in addresses if not is_address_allowed(a)]
    if refused:
        raise UnsafeURL(
            f"The webhook host {host!r} resolves to a non-public address ({', '.join(refused)}); "
            "an administrator must allow it with ALERTS_WEBHOOK_ALLOWED_NETWORKS."
        )
    return addresses


def _check_peer(sock: socket.socket, host: str) -> None:
    peer = sock.getpeername()[0]
    if not is_address_allowed(peer):
        sock.close()
        raise UnsafeURL(f"Refused to send to {host!r}: it connected to the non-public address {peer}.")


class GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock, self.host)


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        # Connect the TCP socket, check the peer, then wrap it in TLS.
        http.client.HTTPConnection.connect(self)
        _check_peer(self.sock, self.host)
        context = self._context if hasattr(self, "_context") else ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def open_connection(url: str, timeout: float):
    """A connection for ``url`` that refuses non-public peers, and the request path."""
    scheme, host, port, path = parse(url)
    check_url(url)
    if scheme == "https":
        return GuardedHTTPSConnection(host, port, timeout=timeout), path
    return GuardedHTTPConnection(host, port, timeout=timeout), path

"""The client's address, for login throttling and the audit trail.

It is the connection's peer, unless the peer is a proxy the console was told to trust
(`WHARF_TRUSTED_PROXIES`, addresses or CIDRs): then `X-Forwarded-For` is read right to
left, skipping trusted proxies, and the first hop that is not one is the client. Hops
left of it were written by the client itself and prove nothing. Nothing else in the
console reads `X-Forwarded-For`.
"""

import ipaddress

from django.conf import settings


def parse_networks(values):
    """Trusted proxies as networks; a bad entry is a configuration error, said at start."""
    return tuple(ipaddress.ip_network(str(v).strip(), strict=False) for v in values)


def _parsed(address):
    try:
        return ipaddress.ip_address(str(address).strip())
    except ValueError:
        return None


def client_address(peer, forwarded_for=""):
    """The client's address given the peer and the X-Forwarded-For header(s)."""
    networks = parse_networks(settings.TRUSTED_PROXIES)
    address = peer
    hops = [h for h in (forwarded_for or "").split(",") if h.strip()]
    while hops and _is_trusted(address, networks):
        hop = _parsed(hops.pop())
        if hop is None:  # a trusted proxy passed on garbage: the proxy is all we know
            break
        address = str(hop)
    return address


def _is_trusted(address, networks):
    ip = _parsed(address) if address else None
    return ip is not None and any(ip in network for network in networks)


def of_request(request):
    """The client address of an HTTP request (`ClientAddressMiddleware` sets it first)."""
    if getattr(request, "client_address", None) is None:
        meta = request.META
        request.client_address = client_address(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR", ""))
    return request.client_address


def of_scope(scope):
    """The client address of an ASGI scope (websockets)."""
    peer = (scope.get("client") or (None, None))[0]
    forwarded = ",".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for")
    return client_address(peer, forwarded)

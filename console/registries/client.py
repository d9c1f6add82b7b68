"""The registry HTTP API v2 (the only code here that talks to a registry directly):
the catalog and a repository's tags, paged, with basic or token auth.

A v2 registry has no search: the catalog is read page by page. Credentials go in the
Authorization header only; no error message carries them (requests' messages name the
URL, which never holds them).
"""

import re
from urllib.parse import parse_qs, urlsplit

import requests

from console.errors import WharfError

TIMEOUT = 10
PAGE = 100


class RegistryError(WharfError):
    status = 502


def _challenge(header):
    """`Bearer realm="...",service="...",scope="..."` -> {"realm": ..., ...}."""
    return dict(re.findall(r'(\w+)="([^"]*)"', header or ""))


def _get(registry, path, params, scope):
    session = requests.Session()
    session.trust_env = False  # no proxy variables: the console talks to the registry itself
    basic = (registry.username, registry.password) if registry.username else None
    url = registry.base_url + path
    try:
        response = session.get(url, params=params, auth=basic, timeout=TIMEOUT)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer"):
            token = _token(session, registry, _challenge(challenge), scope, basic)
            headers = {"Authorization": f"Bearer {token}"}
            response = session.get(url, params=params, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise RegistryError(f"registry {registry.name} is unreachable: {type(exc).__name__}") from None
    finally:
        session.close()
    if response.status_code == 401:
        if registry.username:
            raise RegistryError(f"registry {registry.name} refused the stored credentials")
        raise RegistryError(f"registry {registry.name} needs credentials: add a username and password")
    if response.status_code == 404:
        raise RegistryError(f"registry {registry.name} has no such repository, or no catalog")
    if response.status_code != 200:
        raise RegistryError(f"registry {registry.name} answered {response.status_code}")
    return response


def _token(session, registry, challenge, scope, basic):
    realm = challenge.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise RegistryError(f"registry {registry.name} asked for a token from an unusable address")
    params = {"service": challenge.get("service", ""), "scope": scope}
    response = session.get(realm, params=params, auth=basic, timeout=TIMEOUT)
    if response.status_code != 200:
        raise RegistryError(f"registry {registry.name} refused the stored credentials")
    body = response.json()
    return body.get("token") or body.get("access_token") or ""


def _next_last(response):
    """The `last` of the next page, from the Link header ("" on the last page)."""
    link = response.headers.get("Link", "")
    match = re.search(r"<([^>]*)>\s*;\s*rel=\"?next\"?", link)
    if not match:
        return ""
    return (parse_qs(urlsplit(match[1]).query).get("last") or [""])[0]


def catalog(registry, last="", n=PAGE):
    """One page of repository names, and the `last` of the next page ("" at the end)."""
    params = {"n": n, **({"last": last} if last else {})}
    response = _get(registry, "/v2/_catalog", params, "registry:catalog:*")
    return response.json().get("repositories") or [], _next_last(response)


def tags(registry, repository, last="", n=PAGE):
    """One page of a repository's tags, and the `last` of the next page."""
    params = {"n": n, **({"last": last} if last else {})}
    response = _get(registry, f"/v2/{repository}/tags/list", params, f"repository:{repository}:pull")
    return response.json().get("tags") or [], _next_last(response)

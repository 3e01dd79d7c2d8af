"""One OpenID Connect authorization code flow with PKCE against Gatehouse, with Authlib as the
relying party and a plain `requests.Session` as the person's browser.

Authlib's `OAuth2Session` builds the authorization URL (state, nonce, S256 challenge); the
"browser" follows the redirects to the login page, posts its form (with the csrf_token the page
carries), posts the consent form, and stops at the redirect to the client. `fetch_token`
exchanges the code with client_secret_post (Authlib checks the state); the ID token's signature
is checked against the JWKS with joserfc (Authlib's JOSE library, as its own clients do) and its
claims with `authlib.oidc.core.CodeIDToken` (iss, aud, exp, iat, nonce, azp, at_hash); then
userinfo is fetched with the access token.

Run by oidc-authlib.test.mjs, which registers the client and the person and passes them in the
environment (E2E_ISSUER, E2E_CLIENT_ID, E2E_CLIENT_SECRET, E2E_REDIRECT_URI, E2E_EMAIL,
E2E_PASSWORD, E2E_ID_TOKEN_ALG). Prints one JSON object with what it saw; any failed check
raises (exit status 1, with the reason on stderr).
"""

import json
import os
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

ISSUER = os.environ["E2E_ISSUER"]
CLIENT_ID = os.environ["E2E_CLIENT_ID"]
CLIENT_SECRET = os.environ["E2E_CLIENT_SECRET"]
REDIRECT_URI = os.environ["E2E_REDIRECT_URI"]
EMAIL = os.environ["E2E_EMAIL"]
PASSWORD = os.environ["E2E_PASSWORD"]
ID_TOKEN_ALG = os.environ.get("E2E_ID_TOKEN_ALG", "RS256")
TIMEOUT = 10


class Form(HTMLParser):
    """The first form on a page: its action and inputs; the submit buttons apart."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.inputs = []  # (name, value, type, checked, disabled)
        self.buttons = []  # (name, value, text)
        self.text = []
        self._in_form = False
        self._done = False
        self._button = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = a.get("action")
        elif self._in_form and tag == "input":
            self.inputs.append(
                (a.get("name"), a.get("value", ""), a.get("type", "text"), "checked" in a, "disabled" in a)
            )
        elif self._in_form and tag == "button":
            self._button = [a.get("name"), a.get("value", ""), ""]

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True
        elif tag == "button" and self._button is not None:
            self.buttons.append(tuple(self._button))
            self._button = None

    def handle_data(self, data):
        self.text.append(data)
        if self._button is not None:
            self._button[2] += data.strip()

    def hidden(self):
        return [(n, v) for (n, v, t, _, _) in self.inputs if t == "hidden" and n]

    def button(self, text):
        for name, value, label in self.buttons:
            if label == text:
                return (name, value)
        raise AssertionError(f"no button {text!r} among {self.buttons}")


def form_of(response):
    assert response.status_code == 200, f"{response.status_code} {response.url}: {response.text[:500]}"
    form = Form()
    form.feed(response.text)
    assert form.action, f"no form on {response.url}: {response.text[:500]}"
    return form


def follow(browser, response):
    """Follows redirects within Gatehouse; stops at a page or at the redirect to the client."""
    for _ in range(10):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response, None
        location = urljoin(response.url, response.headers["location"])
        if location.startswith(REDIRECT_URI):
            return response, location
        response = browser.get(location, allow_redirects=False, timeout=TIMEOUT)
    raise AssertionError("too many redirects")


def main():
    metadata = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert metadata["issuer"] == ISSUER, metadata["issuer"]
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert "client_secret_post" in metadata["token_endpoint_auth_methods_supported"]

    rp = OAuth2Session(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="openid email profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = rp.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [state], query

    # The person: not signed in, so the request goes by way of the login page.
    browser = requests.Session()
    page, done = follow(browser, browser.get(url, allow_redirects=False, timeout=TIMEOUT))
    assert done is None and "/ui/login" in page.url, page.url
    login = form_of(page)
    fields = login.hidden() + [("identifier", EMAIL), ("password", PASSWORD), login.button("Sign in")]
    assert any(n == "csrf_token" for n, _ in fields), login.inputs
    sent = browser.post(urljoin(page.url, login.action), data=fields, allow_redirects=False, timeout=TIMEOUT)
    assert sent.status_code == 303, f"{sent.status_code}: {sent.text[:500]}"
    page, done = follow(browser, sent)
    assert done is None and "/ui/consent" in page.url, page.url

    # The consent page: allow everything that can be unchecked (openid is always granted).
    consent = form_of(page)
    shown = " ".join(consent.text)
    for text in ("Email Address", "Profile", "Remember this decision"):
        assert text in shown, f"{text!r} not on the consent page"
    scopes = [(n, v) for (n, v, t, checked, disabled) in consent.inputs if n == "grant_scope"]
    assert sorted(v for _, v in scopes) == ["email", "openid", "profile"], scopes
    granted = [(n, v) for (n, v, t, checked, disabled) in consent.inputs
               if n == "grant_scope" and checked and not disabled]
    fields = consent.hidden() + granted + [consent.button("Allow")]
    sent = browser.post(urljoin(page.url, consent.action), data=fields, allow_redirects=False, timeout=TIMEOUT)
    _, callback = follow(browser, sent)
    assert callback, f"no redirect to the client: {sent.status_code} {sent.text[:500]}"
    answer = parse_qs(urlsplit(callback).query)
    # RFC 9207: the issuer in the answer (Authlib does not check it, so we do).
    assert answer.get("iss") == [ISSUER], answer

    # The code for tokens: Authlib checks the state in the callback and sends the verifier.
    token = rp.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        code_verifier=code_verifier,
    )
    assert token["token_type"].lower() == "bearer", token
    assert sorted(token["scope"].split()) == ["email", "openid", "profile"], token["scope"]

    # The ID token: signature against the JWKS, then the OpenID Connect claims.
    jwks = requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json()
    decoded = jwt.decode(
        token["id_token"],
        KeySet.import_key_set(jwks),
        registry=JWSRegistry(algorithms=metadata["id_token_signing_alg_values_supported"]),
    )
    assert decoded.header["alg"] == ID_TOKEN_ALG, decoded.header
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": CLIENT_ID},
        },
        {"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=60)
    assert "at_hash" in claims, "the ID token has no at_hash"
    assert claims["email"] == EMAIL, claims

    # A wrong access token must fail the at_hash check, a wrong nonce the nonce check.
    for params in ({"access_token": token["access_token"] + "x"}, {"nonce": nonce + "x"}):
        tampered = CodeIDToken(decoded.claims, decoded.header, None, {"client_id": CLIENT_ID, **params})
        try:
            tampered.validate(leeway=60)
        except Exception as err:  # joserfc's InvalidClaimError
            assert "at_hash" in str(err) or "nonce" in str(err), err
        else:
            raise AssertionError(f"validation passed with {params}")

    userinfo = rp.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert userinfo.status_code == 200, f"{userinfo.status_code}: {userinfo.text}"
    info = userinfo.json()
    assert info["sub"] == claims["sub"] and info["email"] == EMAIL, info

    json.dump(
        {
            "state": state,
            "callback": callback,
            "scope": token["scope"],
            "id_token_header": dict(decoded.header),
            "id_token_claims": dict(claims),
            "userinfo": info,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

"""SMTP servers for e2e/courier-smtp.test.mjs, built on aiosmtpd (a real SMTP implementation,
not ours): one process listening on three loopback ports at once --

  plain     no TLS, no AUTH
  starttls  STARTTLS required before anything else, then AUTH (PLAIN / LOGIN) required
  smtps     TLS from the first byte (implicit TLS), then AUTH required

Every message received is parsed with Python's email package and written as one JSON file in
--out (envelope, TLS version, authenticated login, headers and every decoded MIME part), so the
test reads what a mail client would see. Prints {"plain": port, "starttls": port, "smtps": port}
on one line once all three listen, and serves until stdin closes or it is terminated.

Usage: python smtp_sink.py --out DIR --cert server.pem --key server.key --user U --password P
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import uuid
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd warns when AUTH is required on a connection it does not see as STARTTLS; for the
# implicit-TLS port the whole connection is TLS.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


class Sink:
    def __init__(self, mode, out):
        self.mode = mode
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        parts = [
            {"content_type": part.get_content_type(), "content": part.get_content()}
            for part in message.walk()
            if not part.is_multipart()
        ]
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        record = {
            "mode": self.mode,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": ssl_object.version() if ssl_object is not None else None,
            "login": login,
            "from": str(message["from"]),
            "to": str(message["to"]),
            "subject": str(message["subject"]),
            "content_type": message.get_content_type(),
            "parts": parts,
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.out, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.out, f"{name}.json"))
        return "250 2.0.0 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, auth_data=auth_data if ok else None)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    check = authenticator(args.user, args.password)
    loop = asyncio.get_running_loop()

    def protocol(mode):
        sink = Sink(mode, args.out)
        if mode == "plain":
            return lambda: SMTP(sink, hostname="localhost")
        if mode == "starttls":
            return lambda: SMTP(
                sink,
                hostname="localhost",
                tls_context=tls,
                require_starttls=True,
                authenticator=check,
                auth_required=True,
            )
        return lambda: SMTP(
            sink,
            hostname="localhost",
            authenticator=check,
            auth_required=True,
            auth_require_tls=False,
        )

    ports = {}
    servers = []
    for mode in ("plain", "starttls", "smtps"):
        server = await loop.create_server(
            protocol(mode), "127.0.0.1", 0, ssl=tls if mode == "smtps" else None
        )
        servers.append(server)
        ports[mode] = server.sockets[0].getsockname()[1]
    print(json.dumps(ports), flush=True)

    # Serve until the test closes our stdin (or terminates us).
    await loop.run_in_executor(None, sys.stdin.read)
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())

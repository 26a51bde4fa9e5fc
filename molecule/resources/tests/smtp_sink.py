#!/usr/bin/env python3
"""TEST ONLY: a minimal SMTP server that keeps every mail it is given, the smarthost of the hardening scenario.

    smtp_sink.py --port 587 --cert FULLCHAIN --key KEY --user USER --password-sha256 HEX --out FOLDER

It offers STARTTLS, and AUTH (PLAIN, LOGIN) only inside TLS; it takes a mail only after TLS and a login with USER
and the password whose SHA-256 is HEX (535 otherwise, so the sender keeps the mail queued). Each mail is written to
FOLDER as one JSON file: envelope sender and recipients, TLS version, login user, and the message. (Python's smtpd
module is gone since 3.12; this is all a test needs.)
"""

import argparse
import base64
import hashlib
import json
import os
import pathlib
import socketserver
import ssl
import uuid


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def line(self):
        raw = self.rfile.readline(65536)
        if not raw:
            raise EOFError
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def login(self, user, password):
        ok = (user == self.server.user
              and hashlib.sha256(password.encode()).hexdigest() == self.server.password_sha256)
        if ok:
            self.user = user
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Authentication credentials invalid")

    def auth(self, argument):
        parts = argument.split()
        mechanism = parts[0].upper() if parts else ""
        if mechanism == "PLAIN":
            encoded = parts[1] if len(parts) > 1 else (self.send("334 ") or self.line())
            fields = base64.b64decode(encoded).decode("utf-8", "replace").split("\0")
            if len(fields) != 3:
                self.send("501 5.5.2 Bad PLAIN response")
                return
            self.login(fields[1], fields[2])
        elif mechanism == "LOGIN":
            self.send("334 " + base64.b64encode(b"Username:").decode())
            user = base64.b64decode(self.line()).decode("utf-8", "replace")
            self.send("334 " + base64.b64encode(b"Password:").decode())
            self.login(user, base64.b64decode(self.line()).decode("utf-8", "replace"))
        else:
            self.send("504 5.5.4 Unrecognized authentication type")

    def data(self):
        self.send("354 End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            raw = self.rfile.readline(1 << 20)
            if not raw:
                raise EOFError
            if raw in (b".\r\n", b".\n"):
                break
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        record = {"mail_from": self.mail_from, "rcpt_to": self.rcpt_to, "user": self.user,
                  "tls": self.connection.version() if isinstance(self.connection, ssl.SSLSocket) else None,
                  "data": b"".join(lines).decode("utf-8", "replace")}
        out = pathlib.Path(self.server.out)
        name = uuid.uuid4().hex
        (out / f".{name}").write_text(json.dumps(record))
        os.replace(out / f".{name}", out / f"{name}.json")
        self.send("250 2.0.0 Ok: kept as " + name)
        self.mail_from, self.rcpt_to = None, []

    def handle(self):
        self.user, self.mail_from, self.rcpt_to = None, None, []
        self.send("220 smtp.test ESMTP test sink")
        try:
            while True:
                command = self.line()
                verb, _, argument = command.partition(" ")
                verb = verb.upper()
                tls = isinstance(self.connection, ssl.SSLSocket)
                if verb == "EHLO":
                    self.send("250-smtp.test")
                    self.send("250-AUTH PLAIN LOGIN" if tls else "250-STARTTLS")
                    self.send("250 8BITMIME")
                elif verb == "HELO":
                    self.send("250 smtp.test")
                elif verb == "STARTTLS" and not tls:
                    self.send("220 2.0.0 Ready to start TLS")
                    self.connection = self.server.context.wrap_socket(self.connection, server_side=True)
                    self.rfile = self.connection.makefile("rb")
                    self.wfile = self.connection.makefile("wb")
                    self.user = None
                elif verb == "AUTH" and tls and not self.user:
                    self.auth(argument)
                elif verb == "MAIL":
                    if not tls or not self.user:
                        self.send("530 5.7.0 Must issue STARTTLS and AUTH first")
                        continue
                    self.mail_from, self.rcpt_to = argument.split(":", 1)[1].split()[0].strip("<>"), []
                    self.send("250 2.1.0 Ok")
                elif verb == "RCPT" and self.mail_from is not None:
                    self.rcpt_to.append(argument.split(":", 1)[1].split()[0].strip("<>"))
                    self.send("250 2.1.5 Ok")
                elif verb == "DATA" and self.rcpt_to:
                    self.data()
                elif verb in ("RSET", "NOOP"):
                    if verb == "RSET":
                        self.mail_from, self.rcpt_to = None, []
                    self.send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    self.send("221 2.0.0 Bye")
                    return
                else:
                    self.send("502 5.5.2 Command not recognized or out of sequence")
        except (EOFError, ConnectionError, ssl.SSLError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    for option in ("--cert", "--key", "--user", "--password-sha256", "--out"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, default=587)
    args = parser.parse_args()
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    server = Server(("0.0.0.0", args.port), Handler)
    server.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.context.load_cert_chain(args.cert, args.key)
    server.user, server.password_sha256, server.out = args.user, args.password_sha256, args.out
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A small HTTP client for the verify tests: curl, run on a test host through testinfra.

Requests go to the public name (e.g. mathesar.test) resolved to a chosen address, so TLS is checked against
the site's real certificate and CA exactly as a browser would (SNI, Host, chain). Only the test bed uses it.
"""

import json
import re
import shlex
import uuid
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict
    body: str
    cookies: dict = field(default_factory=dict)

    def header(self, name):
        return self.headers.get(name.lower(), "")


class Client:
    def __init__(self, host, domain, cacert, address="127.0.0.1"):
        self.host = host
        self.domain = domain
        self.cacert = cacert
        self.address = address
        self.jar = f"/root/.mdt-cookies-{uuid.uuid4().hex}"
        self.cookies = {}

    def request(self, method, path, scheme="https", headers=None, data=None, json_body=None, upload=None,
                host_header=None, user=None):
        """One request, no redirects followed. data: form fields (urlencoded); upload: (field, remote path)."""
        port = 443 if scheme == "https" else 80
        # HEAD must be curl's -I: with -X HEAD curl waits for a body that never comes.
        argv = ["curl", "-sS", "-i", *(["-I"] if method == "HEAD" else ["-X", method]), "--max-time", "30",
                "--resolve", f"{self.domain}:{port}:{self.address}",
                "--cacert", self.cacert, "-b", self.jar, "-c", self.jar]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        if host_header:
            argv += ["-H", f"Host: {host_header}"]
        if user:
            argv += ["-u", f"{user[0]}:{user[1]}"]
        for name, value in (data or {}).items():
            argv += ["--data-urlencode", f"{name}={value}"]
        if json_body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(json_body)]
        if upload:
            argv += ["-F", f"{upload[0]}=@{upload[1]}"]
        argv.append(f"{scheme}://{self.domain}{path}")
        result = self.host.run(shlex.join(argv))
        assert result.rc == 0, f"curl failed ({result.rc}): {result.stderr}"
        return self._parse(result.stdout)

    def _parse(self, raw):
        head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
        # A "100 Continue" block may come first.
        while head.startswith("HTTP/") and " 100 " in head.split("\n", 1)[0]:
            head, _, body = body.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers, cookies = {}, {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cname, _, rest = value.partition("=")
                cookies[cname] = rest.split(";", 1)[0]
            headers[name] = (headers[name] + ", " + value) if name in headers else value
        self.cookies.update(cookies)
        return Response(status, headers, body, cookies)

    def origin(self):
        return f"https://{self.domain}"

    def login(self, username, password):
        page = self.request("GET", "/auth/login/")
        assert page.status == 200, f"login page: {page.status}"
        token = self.cookies["csrftoken"]
        return self.request("POST", "/auth/login/", data={"username": username, "password": password},
                            headers={"X-CSRFToken": token, "Referer": self.origin() + "/auth/login/"})

    def rpc(self, method, params=None):
        headers = {"X-CSRFToken": self.cookies.get("csrftoken", ""), "Referer": self.origin() + "/"}
        response = self.request("POST", "/api/rpc/v0/", headers=headers,
                                json_body={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
        assert response.status == 200, f"RPC {method}: HTTP {response.status}"
        return json.loads(response.body)

    def rpc_result(self, method, params=None):
        """The result of a JSON-RPC call that must succeed."""
        answer = self.rpc(method, params)
        assert "error" not in answer, f"RPC {method}: {answer}"
        return answer["result"]

    def upload_data_file(self, remote_path):
        """Upload a CSV/TSV (a file on the test host) for import, as Mathesar's UI does: the REST endpoint
        /api/db/v0/data_files/, multipart field `file`, session cookie + CSRF token (the REST views take no HTTP
        Basic). Answers 201 with the data file's `id`."""
        return self.request("POST", "/api/db/v0/data_files/", upload=("file", remote_path),
                            headers={"X-CSRFToken": self.cookies.get("csrftoken", ""),
                                     "Referer": self.origin() + "/"})

    def static_bundle_path(self):
        """The hashed JS bundle the app page (/) loads. Log in first: the login page is a plain Django template
        without the bundle, and / redirects there for anonymous visitors."""
        page = self.request("GET", "/")
        assert page.status == 200, f"GET / gave {page.status}: static_bundle_path needs a logged-in client"
        found = re.search(r'/static/[^"\']+\.[0-9a-f]{12}\.js', page.body)
        assert found, "the app page references no hashed JS bundle"
        return found.group(0)

    def close(self):
        self.host.run(f"rm -f {shlex.quote(self.jar)}")

"""Network tasks done right (issue 14, items 6-8), against the real `celeriac api` + `celeriac worker`:
`fetch_url` on libcurl waits without CPU, and the activation email goes through a real mail server
(aiosmtpd with STARTTLS or implicit TLS, AUTH, a self-signed certificate) to a link that activates once."""
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, wait_for
from mailserver import MailServer
from test_e2e_api import running_system


class SlowServer:
    """A local HTTP server that answers every GET after `delay` seconds; counts arrivals and answers."""

    def __init__(self, delay):
        self.delay = delay
        self.arrived = 0
        self.answered = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.arrived += 1
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/teapot")
                    self.end_headers()
                    return
                if self.path == "/teapot":
                    self.send_response(418)
                    self.end_headers()
                    return
                # The scenario itself: a remote API that takes 2 s (not a wait in the test).
                threading.Event().wait(server.delay)
                with server.lock:
                    server.answered += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_five_slow_fetches_run_at_once_on_a_c5_worker_and_waiting_costs_no_cpu(celeriac_bin, tmp_path):
    remote = SlowServer(delay=2.0)
    try:
        with running_system(celeriac_bin, tmp_path, concurrency=5) as running:
            api, worker = running["api"], running["worker"]
            url = f"http://127.0.0.1:{remote.port}/slow"
            start = time.monotonic()
            # The tutorial's case: one POST /groups of five parts, one long poll for all of them.
            fetch = {"task": "celery_example.fetch_url", "args": [url]}
            status, _, group, _ = api.request("POST", "/groups", {"tasks": [fetch] * 5})
            assert status == 202, group
            wait_for(lambda: remote.arrived >= 5, 5, "all five requests to reach the slow server")
            cpu0, wall0 = cpu_seconds(worker.pid), time.monotonic()
            wait_for(lambda: remote.answered >= 1 or time.monotonic() - start >= 1.9, 5, "the slow server to be about to answer")
            cpu1, wall1 = cpu_seconds(worker.pid), time.monotonic()
            status, _, done, _ = api.request("GET", f"/groups/{group['id']}?wait=10")
            elapsed = time.monotonic() - start
            assert status == 200 and done["state"] == "SUCCESS" and done["completed"] == 5, done
            results = done["tasks"]
            share = (cpu1 - cpu0) / (wall1 - wall0)
            print(f"five 2 s fetches on -c 5: all done in {elapsed:.2f} s; while waiting the worker used "
                  f"{cpu1 - cpu0:.3f} s CPU in {wall1 - wall0:.2f} s = {share * 100:.1f} % of one core "
                  f"(/proc/{worker.pid}/stat)")
            assert [r["state"] for r in results] == ["SUCCESS"] * 5, results
            assert [r["result"] for r in results] == [200] * 5
            assert elapsed < 3.0, f"took {elapsed:.2f} s: the fetches did not run in parallel"
            assert wall1 - wall0 >= 0.5, "the measuring window was too short to mean anything"
            assert share < 0.05, f"the worker used {share * 100:.1f} % of a core while its tasks waited"

            # Redirects are followed (the result is the final status); a dead port is a FetchError.
            status, _, body, _ = api.request("POST", "/tasks", {"task": "celery_example.fetch_url",
                                                               "args": [f"http://127.0.0.1:{remote.port}/redirect"]})
            assert api.wait_state(body["id"])["result"] == 418
            status, _, body, _ = api.request("POST", "/tasks", {"task": "celery_example.fetch_url", "args": ["http://127.0.0.1:9/"]})
            failed = api.wait_state(body["id"])
            assert failed["state"] == "FAILURE" and failed["error"]["type"] == "FetchError", failed
            assert "could not connect" in failed["error"]["message"]
    finally:
        remote.close()


def activation_link(content):
    text = content.decode() if isinstance(content, bytes) else content
    match = re.search(r"https?://\S+/activate/([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


# aiosmtpd warns about AUTH without STARTTLS on the smtps server, where every byte is TLS already.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "smtps-465"])
def test_register_then_the_email_arrives_over_tls_with_auth_and_its_link_activates_once(celeriac_bin, tmp_path, implicit_tls):
    with MailServer(tmp_path, implicit_tls=implicit_tls) as mail, \
            running_system(celeriac_bin, tmp_path, smtp_url=mail.url(), extra_env={"SMTP_CA_FILE": str(mail.cert)}) as running:
        api = running["api"]
        status, _, body, _ = api.request("POST", "/register", {"email": "lin@example.com"})
        assert status == 201, body
        user = body["user_id"]
        done = api.wait_state(body["activation_task_id"])
        assert done["state"] == "SUCCESS", done
        assert done["result"].startswith(f"sent via {mail.scheme}://celeriac@127.0.0.1:") and "s3cret" not in done["result"]
        got = wait_for(lambda: [m for m in mail.received if "lin@example.com" in m[1]], 10, "the email at the mail server")
        assert got[0][3], "the message was not sent over TLS"
        assert mail.logins == [("celeriac", True)]
        token = activation_link(got[0][2])
        assert user not in token

        status, _, pending, _ = api.request("GET", f"/users/{user}")
        assert status == 200 and pending["status"] == "pending" and pending["activation_task"]["state"] == "SUCCESS"
        status, _, active, _ = api.request("GET", f"/activate/{token}", headers={"Accept": "application/json"})
        assert status == 200 and active["status"] == "active", active
        status, _, shown, _ = api.request("GET", f"/users/{user}")
        assert shown["status"] == "active" and shown["activated_at"]
        status, headers, problem, _ = api.request("GET", f"/activate/{token}", headers={"Accept": "application/json"})
        assert status == 409 and headers["content-type"] == "application/problem+json" and problem["field"] == "token"
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        status, _, problem, _ = api.request("GET", f"/activate/{forged}")
        assert status == 404 and problem["field"] == "token"


def test_a_wrong_smtp_password_is_a_failure_that_says_so_after_the_retries(celeriac_bin, tmp_path):
    with MailServer(tmp_path) as mail, \
            running_system(celeriac_bin, tmp_path, smtp_url=mail.url(password="wrong"),
                           extra_env={"SMTP_CA_FILE": str(mail.cert), "EMAIL_MAX_RETRIES": "2",
                                      "EMAIL_RETRY_DELAY": "0.1"}) as running:
        api = running["api"]
        status, _, body, _ = api.request("POST", "/register", {"email": "eve@example.com"})
        assert status == 201, body
        failed = api.wait_state(body["activation_task_id"], states=("SUCCESS", "FAILURE"), timeout=30)
        assert failed["state"] == "FAILURE", failed
        assert failed["error"]["type"] == "SMTPAuthenticationError", failed["error"]
        assert "authentication failed" in failed["error"]["message"] and "password" in failed["error"]["message"]
        assert "wrong" not in failed["error"]["message"], "the password leaked into the error"
        assert failed["retries"] == 2, failed
        assert [ok for _, ok in mail.logins] == [False] * 3
        assert mail.received == []


def test_an_untrusted_smtp_certificate_is_refused_before_any_login(celeriac_bin, tmp_path):
    with MailServer(tmp_path) as mail, \
            running_system(celeriac_bin, tmp_path, smtp_url=mail.url(),
                           extra_env={"EMAIL_MAX_RETRIES": "0"}) as running:
        api = running["api"]
        status, _, body, _ = api.request("POST", "/register", {"email": "mal@example.com"})
        assert status == 201, body
        failed = api.wait_state(body["activation_task_id"], states=("SUCCESS", "FAILURE"), timeout=30)
        assert failed["state"] == "FAILURE", failed
        assert failed["error"]["type"] == "SSLCertVerificationError", failed["error"]
        assert "certificate" in failed["error"]["message"]
        assert mail.logins == [] and mail.received == []


def test_a_server_without_starttls_is_refused_unless_plaintext_is_allowed_for_a_local_catcher(celeriac_bin, tmp_path):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, _server, _session, envelope):
            received.append(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)  # no TLS at all, like Mailpit by default
    controller.start()
    try:
        with running_system(celeriac_bin, tmp_path, smtp_url=f"smtp://127.0.0.1:{port}",
                            extra_env={"EMAIL_MAX_RETRIES": "0"}) as running:
            status, _, body, _ = running["api"].request("POST", "/register", {"email": "tls@example.com"})
            failed = running["api"].wait_state(body["activation_task_id"], states=("SUCCESS", "FAILURE"), timeout=30)
            assert failed["state"] == "FAILURE" and "STARTTLS" in failed["error"]["message"], failed
            assert received == []
        (tmp_path / "second").mkdir()
        with running_system(celeriac_bin, tmp_path / "second", smtp_url=f"smtp://127.0.0.1:{port}",
                            extra_env={"SMTP_ALLOW_PLAINTEXT": "1"}) as running:
            status, _, body, _ = running["api"].request("POST", "/register", {"email": "catcher@example.com"})
            assert running["api"].wait_state(body["activation_task_id"])["state"] == "SUCCESS"
            assert received == [["catcher@example.com"]]
    finally:
        controller.stop()

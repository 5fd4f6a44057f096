"""A real mail server for the email tests: aiosmtpd with STARTTLS (or implicit TLS) and AUTH, behind a
self-signed certificate made here with `openssl`, which a test trusts through `SMTP_CA_FILE` (or not)."""
import shutil
import ssl
import subprocess

import pytest

from conftest import free_port


def self_signed_certificate(folder, name="smtp"):
    """A one-day self-signed certificate for 127.0.0.1 (subjectAltName IP), as (cert, key) paths."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is needed to make the test certificate (apt-get install openssl)")
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def server_tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


class MailServer:
    """aiosmtpd requiring TLS and AUTH (user `celeriac`, password `s3cret`); records what it saw."""

    USER, PASSWORD = "celeriac", "s3cret"

    def __init__(self, folder, implicit_tls=False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.cert, self.key = self_signed_certificate(folder)
        self.received = []  # (mail_from, rcpt_tos, content, tls_on)
        self.logins = []    # (login, accepted)
        server = self

        def authenticator(_server, session, _envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else str(auth_data.login)
            password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else str(auth_data.password)
            ok = (login, password) == (server.USER, server.PASSWORD)
            server.logins.append((login, ok))
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                tls = session.ssl is not None or smtp.transport.get_extra_info("sslcontext") is not None
                server.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls))
                return "250 OK queued"

        self.port = free_port()
        context = server_tls_context(self.cert, self.key)
        options = dict(hostname="127.0.0.1", port=self.port, authenticator=authenticator, auth_required=True,
                       auth_require_tls=True)
        if implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here every byte is TLS already.
            options["auth_require_tls"] = False
            self.controller = Controller(Handler(), ssl_context=context, **options)
        else:
            self.controller = Controller(Handler(), tls_context=context, require_starttls=True, **options)
        self.scheme = "smtps" if implicit_tls else "smtp"

    def url(self, password=None):
        return f"{self.scheme}://{self.USER}:{password or self.PASSWORD}@127.0.0.1:{self.port}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

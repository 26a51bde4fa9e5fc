"""The hardening scenario's checks of reports by mail: the hardened host's mail (a mail to root, a cron job's output)
reaches the smarthost (a test SMTP sink on the outsider, smtp_sink.py) at root's alias, over TLS with the login from
the vault, and waits in the queue while the smarthost is down; the outsider, where the role's mail concern runs
with no smarthost (the role's default), keeps its mail in root's mailbox."""

import json
import pathlib
import smtplib
import ssl
import time
import uuid

import pytest
import yaml
from conftest import _load_vault, smtp_listeners

testinfra_hosts = ["mathesar_app"]

RESOURCES = pathlib.Path(__file__).resolve().parents[3]
RELAY = yaml.safe_load((RESOURCES / "vars" / "test-mail-relay.yml").read_text())
SINK_FOLDER = "/var/lib/smtp-sink"
# The outsider, where the sink runs (molecule/hardening/molecule.yml).
SINK_ADDRESS = "172.30.98.12"
SASL_PASSWD = "/etc/postfix/sasl_passwd"


def _relay_password():
    return _load_vault("test-vault-mail.yml")["vault_test_mail_relay_password"]


def _marker(kind):
    return f"mail-check-{kind}-{uuid.uuid4().hex[:12]}"


def _arrived(outsider, marker, timeout):
    """The sink's record of the one mail that holds marker, waiting up to timeout seconds for it."""
    deadline = time.monotonic() + timeout
    while True:
        found = outsider.run(f"grep -l -r -F -- {marker} {SINK_FOLDER}")
        if found.rc == 0:
            files = found.stdout.split()
            assert len(files) == 1, files
            return json.loads(outsider.file(files[0]).content_string)
        assert time.monotonic() < deadline, f"no mail with {marker} reached the smarthost in {timeout} s"
        time.sleep(2)


def _queue(host):
    """Postfix's queue: one dict per mail (postqueue -j)."""
    listed = host.run("postqueue -j")
    assert listed.rc == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]


def test_the_smarthost_login_is_root_only(host):
    passwd = host.file(SASL_PASSWD)
    assert (passwd.user, passwd.group, passwd.mode) == ("root", "root", 0o600)
    assert host.run(f"runuser -u nobody -- cat {SASL_PASSWD}").rc != 0
    # The password from the vault is in it (compared here, never printed).
    holds_password = f"{RELAY['hardening_mail_relay_user']}:{_relay_password()}" in passwd.content_string
    assert holds_password, "the vault's password is not in the smarthost login file"


def test_a_mail_to_root_reaches_the_alias_through_the_smarthost(host, outsider):
    marker = _marker("root")
    sent = host.run(f"echo 'body {marker}' | mail -s 'subject {marker}' root")
    assert sent.rc == 0, sent.stderr
    mail = _arrived(outsider, marker, 90)
    assert mail["rcpt_to"] == [RELAY["hardening_mail_root_alias"]], mail["rcpt_to"]
    # Over TLS, logged in with the vault's password (the sink refuses a mail before both).
    assert mail["tls"] in ("TLSv1.2", "TLSv1.3") and mail["user"] == RELAY["hardening_mail_relay_user"], mail
    assert f"Subject: subject {marker}" in mail["data"]


def test_a_cron_jobs_output_reaches_the_alias(host, outsider):
    """cron mails a job's output to root: the path of debsums' weekly check and of any job that says something."""
    marker = _marker("cron")
    job = "/etc/cron.d/zz-mail-check"
    assert host.run(f"printf '* * * * * root echo {marker}\\n' > {job} && chmod 0644 {job}").rc == 0
    try:
        mail = _arrived(outsider, marker, 150)
    finally:
        host.run(f"rm -f {job}")
    assert mail["rcpt_to"] == [RELAY["hardening_mail_root_alias"]], mail["rcpt_to"]
    assert "Subject: Cron <root@" in mail["data"], mail["data"][:500]


def test_a_mail_waits_in_the_queue_while_the_smarthost_is_down(host, outsider):
    marker = _marker("queued")
    assert outsider.run("systemctl stop smtp-sink").rc == 0
    try:
        assert host.run(f"echo 'body {marker}' | mail -s 'subject {marker}' root").rc == 0
        deadline = time.monotonic() + 60
        while not any(r.get("delay_reason") for mail in _queue(host) for r in mail.get("recipients", [])):
            assert time.monotonic() < deadline, f"the mail was not deferred: {_queue(host)}"
            time.sleep(2)
        waiting = _queue(host)
        print(f"queue while the smarthost is down: {waiting}")
        assert any(r["address"] == RELAY["hardening_mail_root_alias"] for mail in waiting for r in mail["recipients"])
    finally:
        assert outsider.run("systemctl start smtp-sink").rc == 0
    # The sink answers before the flush (its unit counts as started before it listens): a flush that meets a refused
    # connection again defers the mail for Postfix's back-off, 5 minutes at first.
    port = RELAY["hardening_mail_relay_port"]
    deadline = time.monotonic() + 30
    while host.run(f"timeout 3 bash -c '</dev/tcp/{SINK_ADDRESS}/{port}'").rc != 0:
        assert time.monotonic() < deadline, f"the sink did not listen on {SINK_ADDRESS}:{port} again in 30 s"
        time.sleep(1)
    # Postfix retries by itself; a flush only saves the test the wait.
    assert host.run("postqueue -f").rc == 0
    _arrived(outsider, marker, 90)
    deadline = time.monotonic() + 30
    while _queue(host):
        assert time.monotonic() < deadline, f"the queue did not empty: {_queue(host)}"
        time.sleep(2)


# The outsider: the role's mail concern with no smarthost (molecule/hardening/converge.yml, last play).

def test_without_a_smarthost_postfix_listens_on_loopback_only(outsider):
    assert outsider.run("postconf -h relayhost").stdout.strip() == ""
    listeners = smtp_listeners(outsider)
    assert listeners and listeners <= {"127.0.0.1:25", "[::1]:25"}, listeners


def _in_root_mailbox(host, marker, timeout):
    deadline = time.monotonic() + timeout
    while host.run(f"grep -q -F -- {marker} /var/mail/root").rc != 0:
        assert time.monotonic() < deadline, f"{marker} did not reach /var/mail/root in {timeout} s"
        time.sleep(2)


def test_without_a_smarthost_root_mail_stays_in_roots_mailbox(outsider):
    marker = _marker("local")
    assert outsider.run(f"echo 'body {marker}' | mail -s 'subject {marker}' root").rc == 0
    _in_root_mailbox(outsider, marker, 60)
    # What an admin does: `mail` lists it (h: the headers, x: leave the mailbox as it was).
    listed = outsider.run("printf 'h\\nx\\n' | mail -f /var/mail/root")
    assert "subject mail-check-local" in listed.stdout, listed.stdout + listed.stderr


def test_without_a_smarthost_mail_to_another_host_bounces_to_root(outsider):
    """Nothing leaves the host, and nothing vanishes: the bounce lands in root's mailbox."""
    marker = _marker("bounce")
    assert outsider.run(f"echo 'body {marker}' | mail -s 'subject {marker}' someone@example.org").rc == 0
    _in_root_mailbox(outsider, marker, 60)
    mailbox = outsider.file("/var/mail/root").content_string
    assert "Undelivered Mail Returned to Sender" in mailbox
    assert not _queue(outsider), _queue(outsider)


def test_the_sink_refuses_a_wrong_login_and_a_mail_without_one():
    """The sink is an honest smarthost: the mails above arrived because the host logged in with the vault's
    password over TLS, not because the sink takes anything."""
    with smtplib.SMTP(SINK_ADDRESS, RELAY["hardening_mail_relay_port"], timeout=20) as smtp:
        smtp.ehlo("controller")
        smtp.starttls(context=ssl._create_unverified_context())  # noqa: S323 (the test CA is not the controller's)
        smtp.ehlo("controller")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(RELAY["hardening_mail_relay_user"], "another password")
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.sendmail("root@controller", ["admin@reports.test"], "Subject: no login\r\n\r\nx\r\n")

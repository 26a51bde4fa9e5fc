#!/usr/bin/env python3
"""A test PKI for the proxy's files mode: a root CA, an intermediate CA and a site certificate signed by it.

    site_pki.py FOLDER NAME [NAME ...]

writes into FOLDER (created if needed): root.crt, intermediate.crt, site.crt (the site's certificate alone),
fullchain.crt (site + intermediate, what a user gives reverse_proxy_tls_cert_file) and site.key (0600). The site
certificate is for the NAMEs (DNS names, or IPv4 addresses) and valid for 30 days. An existing FOLDER/fullchain.crt
is kept (a re-run of the converge must not change the certificate). Also imported by tests/preflight.
"""

import datetime
import ipaddress
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _sign(subject, public_key, issuer, issuer_key, days, ca, names=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = ((now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)) if days < 0
                  else (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               # The key identifiers that strict verifiers require (Python 3.13's ssl: VERIFY_X509_STRICT).
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    if names:
        builder = builder.add_extension(_san(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make(folder, names, days=30):
    """Write the files (see the module's docstring) for names; days < 0: an expired site certificate."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root_key, inter_key, site_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _sign(_name("Test Root CA"), root_key.public_key(), _name("Test Root CA"), root_key, 3650, True)
    inter = _sign(_name("Test Intermediate CA"), inter_key.public_key(), root.subject, root_key, 3650, True)
    site = _sign(_name(names[0]), site_key.public_key(), inter.subject, inter_key, days, False, names)
    (folder / "root.crt").write_bytes(_pem(root))
    (folder / "intermediate.crt").write_bytes(_pem(inter))
    (folder / "site.crt").write_bytes(_pem(site))
    (folder / "fullchain.crt").write_bytes(_pem(site) + _pem(inter))
    key = folder / "site.key"
    key.write_bytes(_key_pem(site_key))
    key.chmod(0o600)
    return folder


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    target = pathlib.Path(sys.argv[1])
    if not (target / "fullchain.crt").exists():
        make(target, sys.argv[2:])

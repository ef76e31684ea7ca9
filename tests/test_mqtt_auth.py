"""MqttLink with TLS client certificates and with a user name and password file."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gestured.errors import ConfigError
from gestured.runtime.config import MqttConfig
from gestured.runtime.mqtt import MqttLink
from mqtt_helpers import Observer, wait_until

DEVICE = "secure1"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate."""
    folder = tmp_path / "pki"
    folder.mkdir()
    ca_key = _key()
    ca_cert = _certificate("gestured test CA", ca_key, None, ca_key, ca=True)
    paths = {name: folder / f"{name}.pem" for name in ("ca", "server", "client")}
    keys = {name: folder / f"{name}.key" for name in ("server", "client")}
    _write_cert(ca_cert, paths["ca"])
    for name in ("server", "client"):
        key = _key()
        cert = _certificate(name, key, ca_cert, ca_key, server=name == "server")
        _write_cert(cert, paths[name])
        _write_key(key, keys[name])
    return {
        "ca": paths["ca"],
        "server_cert": paths["server"],
        "server_key": keys["server"],
        "client_cert": paths["client"],
        "client_key": keys["client"],
    }


@pytest.fixture
def cleanup() -> Iterator[list[object]]:
    made: list[object] = []
    yield made
    for item in made:
        if isinstance(item, MqttLink):
            item.stop(timeout=2)
        elif isinstance(item, Observer):
            item.close()


def test_tls_with_client_certificate(
    broker_factory: Callable[..., Broker], pki: dict[str, Path], cleanup: list[object]
) -> None:
    broker = broker_factory(
        extra="\n".join(
            [
                f"cafile {pki['ca']}",
                f"certfile {pki['server_cert']}",
                f"keyfile {pki['server_key']}",
                "require_certificate true",
            ]
        )
    )
    broker.start()
    config = MqttConfig(
        host=broker.host,
        port=broker.port,
        tls=True,
        ca_file=pki["ca"],
        cert_file=pki["client_cert"],
        key_file=pki["client_key"],
        reconnect_min_delay=1,
        reconnect_max_delay=2,
    )
    link = MqttLink(config, DEVICE)
    cleanup.append(link)
    link.start()
    assert link.wait_connected(15), broker.log()

    def observer_tls(client: mqtt.Client) -> None:
        client.tls_set(
            ca_certs=str(pki["ca"]),
            certfile=str(pki["client_cert"]),
            keyfile=str(pki["client_key"]),
            cert_reqs=ssl.CERT_REQUIRED,
        )

    observer = Observer(broker.host, broker.port, tls=observer_tls)
    cleanup.append(observer)
    observer.subscribe(link.status_topic)
    assert observer.wait_for(lambda m: True).payload == b"online"

    # Without a client certificate the broker refuses the TLS handshake.
    no_cert = MqttLink(
        MqttConfig(
            host=broker.host,
            port=broker.port,
            tls=True,
            ca_file=pki["ca"],
            client_id="nocert",
        ),
        "nocert",
    )
    cleanup.append(no_cert)
    no_cert.start()
    assert not no_cert.wait_connected(3)


def test_tls_rejects_unknown_ca(
    broker_factory: Callable[..., Broker],
    pki: dict[str, Path],
    tmp_path: Path,
    cleanup: list[object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = broker_factory(
        extra=f"certfile {pki['server_cert']}\nkeyfile {pki['server_key']}"
    )
    broker.start()
    other_key = _key()
    other_ca = tmp_path / "other-ca.pem"
    _write_cert(_certificate("other CA", other_key, None, other_key, ca=True), other_ca)
    link = MqttLink(
        MqttConfig(host=broker.host, port=broker.port, tls=True, ca_file=other_ca),
        DEVICE,
    )
    cleanup.append(link)
    link.start()
    assert not link.wait_connected(3)
    wait_until(lambda: "cannot reach MQTT broker" in caplog.text)


def test_tls_missing_file_names_key(tmp_path: Path) -> None:
    config = MqttConfig(tls=True, ca_file=tmp_path / "absent.pem")
    with pytest.raises(ConfigError, match="mqtt.ca_file"):
        MqttLink(config, DEVICE).start()


def _password_file(folder: Path, user: str, password: str) -> Path:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    path = folder / "passwd"
    subprocess.run(
        [tool, "-c", "-b", str(path), user, password],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def test_username_and_password_file(
    broker_factory: Callable[..., Broker],
    tmp_path: Path,
    cleanup: list[object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cret pass"
    broker_passwords = _password_file(tmp_path, "gestured", secret)
    broker = broker_factory(
        extra=f"allow_anonymous false\npassword_file {broker_passwords}"
    )
    broker.start()
    good = tmp_path / "good.txt"
    good.write_text(secret + "\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_text("bad-pass-7Q\n", encoding="utf-8")
    caplog.set_level("DEBUG")

    link = MqttLink(
        MqttConfig(
            host=broker.host, port=broker.port, username="gestured", password_file=good
        ),
        DEVICE,
    )
    cleanup.append(link)
    link.start()
    assert link.wait_connected(10), broker.log()

    refused = MqttLink(
        MqttConfig(
            host=broker.host,
            port=broker.port,
            username="gestured",
            password_file=bad,
            client_id="refused",
            reconnect_min_delay=1,
            reconnect_max_delay=2,
        ),
        "refused",
    )
    cleanup.append(refused)
    refused.start()
    assert not refused.wait_connected(3)
    wait_until(lambda: "rejected client refused" in caplog.text)
    assert secret not in caplog.text
    assert "bad-pass-7Q" not in caplog.text

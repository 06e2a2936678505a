"""Gateway configuration: embedded defaults, TOML/JSON files, precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kleptolab.device.config import ConfigError, load_config
from kleptolab.device.console.accounts import verify_password
from kleptolab.device.eventlog import SyslogFormat
from kleptolab.device.queues import queue_sizes


def test_embedded_defaults() -> None:
    config = load_config()
    assert (config.ike_port, config.natt_port, config.ssh_port, config.telnet_port) == (10500, 14500, 2222, 2323)
    assert config.listen == "127.0.0.1" and config.hostname == "ssg5-lab"
    assert [a.name for a in config.admins] == ["netscreen"]
    assert verify_password("netscreen", config.admins[0].password_hash)
    assert [v.peer.name for v in config.vpns] == ["lab-ikev1", "lab-ikev2"]
    assert queue_sizes(config.enabled_peers) == {2: 4, 14: 2}
    assert config.syslog.target is None and config.prng.seed is None and config.hash_chain


def test_toml_file_replaces_lists_and_merges_tables(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(
        """
hostname = "ssg20-lab"
seed = "00ff"
firmware = "images/fw.bin"
[ports]
ssh = 0
[console]
max_sessions = 2
ssh_host_key = "keys/host"
[syslog]
target = "127.0.0.1:5514"
format = "bsd"
[prng]
one_stage_rng = true
[[admin]]
name = "alice"
password = "wonderland"
[[admin]]
name = "bob"
password_hash = "pbkdf2-sha256$1000$00$00"
privilege = "read-only"
[[vpn]]
name = "a"
version = 1
local_id = "127.0.0.1"
remote_id = "127.0.0.2"
psk = "x"
ike_proposals = ["pre-g5-aes128-sha", "pre-g2-3des-sha"]
child_proposals = ["g2-esp-3des-sha"]
local_ts = "10.1.0.0/24"
remote_ts = "10.2.0.0/24"
aggressive = true
[[vpn]]
name = "b"
version = 2
enabled = false
local_id = "127.0.0.1"
remote_id = "127.0.0.3"
psk = "y"
ike_proposals = ["pre-g20-aes256-sha-256"]
child_proposals = ["nopfs-esp-aes256-sha-256"]
local_ts = "10.1.0.0/24"
remote_ts = "10.3.0.0/24"
[[service]]
protected = "10.1.0.10:7"
target = "127.0.0.1:7007"
"""
    )
    config = load_config(path)
    assert config.hostname == "ssg20-lab" and config.prng.seed == 0xFF and config.prng.one_stage_rng
    assert config.firmware == tmp_path / "images/fw.bin"
    assert config.console.ssh_host_key == tmp_path / "keys/host"
    assert (config.ssh_port, config.telnet_port, config.console.max_sessions) == (0, 2323, 2)
    assert config.syslog.target == ("127.0.0.1", 5514) and config.syslog.format is SyslogFormat.BSD
    assert [a.name for a in config.admins] == ["alice", "bob"] and config.admins[1].privilege == "read-only"
    assert config.vpns[0].peer.aggressive and config.vpns[0].ike_proposal_names == ("pre-g5-aes128-sha", "pre-g2-3des-sha")
    # IKE groups 5 and 2 plus PFS group 2 (counted once): the disabled VPN adds nothing
    assert queue_sizes(config.enabled_peers) == {5: 2, 2: 2}
    assert config.services == ((("10.1.0.10", 7), ("127.0.0.1", 7007)),)
    # command-line overrides win
    assert load_config(path, hostname="x", ports={"ike": 500}).ike_port == 500


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "gw.json"
    path.write_text(json.dumps({"hostname": "j", "ports": {"telnet": 0}, "hash_chain": False}))
    config = load_config(path)
    assert config.hostname == "j" and config.telnet_port == 0 and not config.hash_chain


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "red"}, "unknown configuration keys: colour"),
        ({"ports": {"ssh": 70000}}, "ports.ssh: port must be 0..65535"),
        ({"ports": {"ssh": "22"}}, "ports.ssh: expected int, got str"),
        ({"hash_chain": 1}, "hash_chain: expected bool, got int"),
        ({"seed": "zz"}, "seed: not a hex number"),
        ({"seed": "0"}, "seed: must be a non-zero 256-bit value"),
        ({"listen": "0.0.0.0"}, "not a loopback address"),
        ({"listen": "ssg5"}, "listen: not an IP address"),
        ({"syslog": {"target": "192.0.2.1:514"}}, "syslog: syslog collector 192.0.2.1 is not a loopback"),
        ({"syslog": {"format": "json"}}, "syslog:"),
        ({"admin": []}, "at least one admin"),
        ({"admin": [{"name": "a"}]}, "exactly one of 'password' or 'password_hash'"),
        ({"admin": [{"name": "a", "password_hash": "md5$x"}]}, "unknown password hash format"),
        ({"vpn": [{"name": "v"}]}, "vpn[0].ike_proposals: missing"),
        ({"vpn": [{"name": "v", "version": 1, "local_id": "a", "remote_id": "b", "ike_proposals": ["pre-g99-3des-sha"],
                   "child_proposals": ["nopfs-esp-3des-sha"], "local_ts": "10.0.0.0/8", "remote_ts": "10.1.0.0/16"}]},
         "unknown DH group"),
        ({"console": {"max_sessions": 0}}, "must be positive"),
        ({"service": [{"protected": "10.0.0.1", "target": "127.0.0.1:7"}]}, "service[0].protected: expected 'IP:PORT'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, data: dict[str, object], message: str) -> None:
    path = tmp_path / "gw.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


def test_external_listen_needs_an_explicit_opt_in() -> None:
    assert load_config(None, listen="10.9.0.1", allow_external_listen=True).listen == "10.9.0.1"


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("hostname = ")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_config(bad)

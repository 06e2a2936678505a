"""The bad-input table of the CLI contract test, and the workspace its rows refer to.

Every row is run in the workspace folder (relative paths) and must end with exit 2,
exactly one stderr line ``kleptolab CMD: error: …`` containing ``expect``, no
traceback, and the workspace unchanged (nothing half-written).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from kleptolab.device.firmware import build_image
from kleptolab.drbg.curves import curve_by_name
from kleptolab.drbg.trapdoor import generate_trapdoor


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments after ``kleptolab`` and a part of the error line."""

    id: str
    args: tuple[str, ...]
    expect: str


def case(id: str, line: str | list[str], expect: str) -> Case:
    """A row; ``line`` is split on spaces unless given as a list."""
    return Case(id, tuple(line.split() if isinstance(line, str) else line), expect)


CONFIGS: dict[str, bytes] = {
    "nonutf8.toml": b'hostname = "\xff\xfe"\n',
    "admin1.toml": b"admin = [1]\n",
    "vpn1.toml": b"vpn = [1]\n",
    "svc1.toml": b"service = [1]\n",
    "admin-int.toml": b"admin = 1\n",
    "ports-int.toml": b"ports = 1\n",
    "ikee.toml": b"[ports]\nikee = 10500\n",
    "consolex.toml": b"[console]\nmax_session = 3\n",
    "vpnkey.toml": b'[[vpn]]\nname = "a"\npskk = "x"\n',
    "deep.json": b'{"hostname": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "deep.toml": b"hostname = " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "nested.json": b'{"hostname": [[[[[[[[["x"]]]]]]]]]}',
    "surrogate.json": b'{"hostname": "\\ud800"}',
    "control.json": b'{"hostname": "\\u001b[31mred"}',
    "scrypt-cost.toml": b'[[admin]]\nname = "x"\npassword_hash = "scrypt$1048576$8$1000000$00$00"\n',
    "pbkdf2-cost.toml": b'[[admin]]\nname = "x"\npassword_hash = "pbkdf2-sha256$1000000000$00$00"\n',
    "syntax.toml": b"[ports\n",
    "list.json": b"[1, 2]",
    "external.toml": b'listen = "8.8.8.8"\n',
    "badport.toml": b"[ports]\nike = 70000\n",
    "proposal-string.toml": b'[[vpn]]\nname = "a"\nversion = 1\nlocal_id = "a"\nremote_id = "b"\n'
    b'psk = "x"\nike_proposals = "pre-g2-3des-sha"\nchild_proposals = ["g2-esp-3des-sha"]\n'
    b'local_ts = "10.0.0.0/24"\nremote_ts = "10.1.0.0/24"\n',
    "timeout-inf.toml": b"[console]\nidle_timeout = inf\n",
    "half-open-0.toml": b"max_half_open = 0\n",
    "host-key-junk.toml": b'[console]\nssh_host_key = "text.log"\n',
}


def make_workspace(root: Path) -> Path:
    """Write the files the rows name into ``root`` and return it."""
    trapdoor = generate_trapdoor(curve_by_name("P-256"))
    trapdoor.save(root / "td.json", public_path=root / "q.json")
    generate_trapdoor(curve_by_name("P-384")).save(root / "td384.json")
    image = build_image("6.3.0r20", trapdoor_q=trapdoor.q)
    (root / "fw.img").write_bytes(image)
    (root / "fw21.img").write_bytes(build_image("6.3.0r21", trapdoor_q=trapdoor.q))
    (root / "trunc.img").write_bytes(image[:100])
    (root / "notjson.json").write_text("{not json")
    (root / "existing.json").write_text("{}")
    (root / "text.log").write_text("hello, not an event log\n")
    (root / "bin.log").write_bytes(b"\x7fELF\x02\x01\x01\x00\x1b[2J\x1b]0;pwned\x07" * 50)
    (root / "empty.pcap").write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    (root / "inv-bad.csv").write_text("host,version\na,6.3.0r20\nb,bogus\n")
    (root / "inv-no-version.csv").write_text("host,release\na,6.3.0r20\n")
    (root / "inv-nonutf8.csv").write_bytes(b"host,version\n\xff\xfe,6.3.0r20\n")
    (root / "cache-bad.json").write_text(json.dumps([1, 2]))
    (root / "dir").mkdir()
    (root / "pkidir").mkdir()
    (root / "pkidir" / "ca.crt").write_text("not overwritten\n")
    for name, data in CONFIGS.items():
        (root / name).write_bytes(data)
    return root


D = "decrypt empty.pcap --trapdoor td.json"  # a decrypt line that is fine so far
G = "gateway --firmware fw.img"
C = "client --timeout 1"

ROWS: list[Case] = [
    # the CLI itself
    case("no-command", [], "missing command"),
    case("unknown-command", "nosuchcommand", "No such command"),
    case("unknown-option", "--nosuchoption", "No such option"),
    case("bare-firmware-group", "firmware", "missing command"),
    case("bare-pki-group", "pki", "missing command"),
    # keygen
    case("keygen-no-output", "keygen", "Missing option"),
    case("keygen-bad-curve", "keygen -o k.json --curve P-1", "unknown curve"),
    case("keygen-output-folder", "keygen -o dir", "is a folder"),
    case("keygen-output-missing-folder", "keygen -o nodir/k.json", "does not exist"),
    case("keygen-output-dev-full", "keygen -o /dev/full --force", "not a regular file"),
    case("keygen-output-exists", "keygen -o existing.json", "use --force"),
    case("keygen-same-files", "keygen -o k.json --public-out k.json", "another file"),
    case(
        "keygen-public-missing-folder",
        "keygen -o k.json --public-out nodir/q.json",
        "does not exist",
    ),
    case(
        "keygen-public-dev-full", "keygen -o k.json --public-out /dev/full --force", "not a regular"
    ),
    # prng
    case("prng-unknown-profile", "prng --profile 9.9.9r1", "9.9.9"),
    case("prng-junk-profile", "prng --profile nonsense", "nonsense"),
    case("prng-needs-trapdoor", "prng --profile 6.3.0r20", "--trapdoor"),
    case("prng-trapdoor-missing", "prng --trapdoor none.json", "not found"),
    case("prng-trapdoor-folder", "prng --trapdoor dir", "is a folder"),
    case("prng-trapdoor-device", "prng --trapdoor /dev/zero", "not a regular file"),
    case("prng-trapdoor-not-json", "prng --trapdoor notjson.json", "not valid JSON"),
    case("prng-trapdoor-p384", "prng --trapdoor td384.json", "P-256"),
    case("prng-count-zero", "prng --trapdoor q.json -n 0", "--count"),
    case("prng-count-huge", "prng --trapdoor q.json -n 1000000000", "--count"),
    case("prng-count-text", "prng --trapdoor q.json -n many", "--count"),
    case("prng-seed-not-hex", "prng --trapdoor q.json --seed zz", "not a hex string"),
    case("prng-seed-zero", "prng --trapdoor q.json --seed 00", "non-zero"),
    case("prng-seed-negative", "prng --trapdoor q.json --seed -5", "non-zero"),
    case("prng-seed-too-long", ["prng", "--trapdoor", "q.json", "--seed", "11" * 33], "32 bytes"),
    # recover
    case("recover-no-output", "recover --trapdoor td.json", "Missing argument"),
    case("recover-not-hex", "recover zz --trapdoor td.json", "not a hex string"),
    case("recover-short", ["recover", "00" * 31, "--trapdoor", "td.json"], "32 bytes"),
    case(
        "recover-trapdoor-missing", ["recover", "00" * 32, "--trapdoor", "none.json"], "not found"
    ),
    case("recover-public-only", ["recover", "00" * 32, "--trapdoor", "q.json"], "format"),
    case(
        "recover-next-not-hex",
        ["recover", "00" * 32, "--trapdoor", "td.json", "--next", "zz"],
        "not a hex string",
    ),
    case(
        "recover-next-long",
        ["recover", "00" * 32, "--trapdoor", "td.json", "--next", "00" * 33],
        "1 to 32 bytes",
    ),
    case(
        "recover-workers-zero",
        ["recover", "00" * 32, "--trapdoor", "td.json", "--workers", "0"],
        "--workers",
    ),
    case(
        "recover-predict-huge",
        ["recover", "00" * 32, "--trapdoor", "td.json", "--predict", "99999"],
        "--predict",
    ),
    # firmware build / info
    case("fw-build-no-profile", "firmware build -o x.img", "Missing option"),
    case("fw-build-unknown-profile", "firmware build --profile 7.0.0r1 -o x.img", "7.0.0"),
    case(
        "fw-build-output-missing-folder",
        "firmware build --profile 6.3.0r21 -o nodir/x.img",
        "does not exist",
    ),
    case("fw-build-output-folder", "firmware build --profile 6.3.0r21 -o dir", "is a folder"),
    case(
        "fw-build-output-dev-full",
        "firmware build --profile 6.3.0r21 -o /dev/full",
        "not a regular file",
    ),
    case(
        "fw-build-needs-trapdoor", "firmware build --profile 6.3.0r20 -o x.img", "kleptolab keygen"
    ),
    case(
        "fw-build-trapdoor-missing",
        "firmware build --profile 6.3.0r20 --trapdoor none.json -o x.img",
        "not found",
    ),
    case(
        "fw-build-trapdoor-p384",
        "firmware build --profile 6.3.0r20 --trapdoor td384.json -o x.img",
        "P-256",
    ),
    case(
        "fw-build-password-without-backdoor",
        "firmware build --profile 6.3.0r21 --trapdoor q.json --master-password x -o x.img",
        "no admin backdoor",
    ),
    case(
        "fw-build-password-not-ascii",
        "firmware build --profile 6.3.0r20 --trapdoor q.json --master-password pässword -o x.img",
        "printable ASCII",
    ),
    case("fw-info-missing", "firmware info none.img", "not found"),
    case("fw-info-folder", "firmware info dir", "is a folder"),
    case("fw-info-device", "firmware info /dev/null", "not a regular file"),
    case("fw-info-not-an-image", "firmware info text.log", "text.log"),
    case("fw-info-truncated", "firmware info trunc.img", "trunc.img"),
    # gateway
    case("gw-no-firmware", "gateway", "Missing option"),
    case("gw-firmware-missing", "gateway --firmware none.img", "not found"),
    case("gw-firmware-folder", "gateway --firmware dir", "is a folder"),
    case("gw-firmware-not-an-image", "gateway --firmware text.log --run-for 1", "corrupt firmware"),
    case("gw-config-missing", f"{G} --config none.toml", "not found"),
    case("gw-config-device", f"{G} --config /dev/zero", "not a regular file"),
    case("gw-config-not-utf8", f"{G} --config nonutf8.toml", "not UTF-8"),
    case("gw-config-admin-1", f"{G} --config admin1.toml", "admin[0]: expected a table"),
    case("gw-config-vpn-1", f"{G} --config vpn1.toml", "vpn[0]: expected a table"),
    case("gw-config-service-1", f"{G} --config svc1.toml", "service[0]: expected a table"),
    case("gw-config-admin-int", f"{G} --config admin-int.toml", "admin: expected an array"),
    case("gw-config-ports-int", f"{G} --config ports-int.toml", "ports: expected a table"),
    case("gw-config-ports-ikee", f"{G} --config ikee.toml", "ports.ikee: unknown key"),
    case(
        "gw-config-console-typo", f"{G} --config consolex.toml", "console.max_session: unknown key"
    ),
    case("gw-config-vpn-typo", f"{G} --config vpnkey.toml", "vpn[0].pskk: unknown key"),
    case("gw-config-deep-json", f"{G} --config deep.json", "nested too deeply"),
    case("gw-config-deep-toml", f"{G} --config deep.toml", "nested too deeply"),
    case("gw-config-nested", f"{G} --config nested.json", "nested too deeply"),
    case("gw-config-surrogate", f"{G} --config surrogate.json", "surrogate"),
    case("gw-config-control-chars", f"{G} --config control.json", "control characters"),
    case("gw-config-scrypt-cost", f"{G} --config scrypt-cost.toml", "scrypt"),
    case("gw-config-pbkdf2-cost", f"{G} --config pbkdf2-cost.toml", "pbkdf2 iterations"),
    case("gw-config-syntax", f"{G} --config syntax.toml", "syntax.toml"),
    case("gw-config-top-list", f"{G} --config list.json", "top level"),
    case("gw-config-external", f"{G} --config external.toml", "loopback"),
    case("gw-config-port-range", f"{G} --config badport.toml", "ports.ike"),
    case("gw-run-for-negative", f"{G} --run-for -1", "--run-for"),
    case("gw-run-for-zero", f"{G} --run-for 0", "--run-for"),
    case("gw-run-for-nan", f"{G} --run-for nan", "--run-for"),
    case("gw-seal-interval-negative", f"{G} --seal-interval -1", "--seal-interval"),
    case("gw-seal-interval-huge", f"{G} --seal-interval 999999999", "--seal-interval"),
    case("gw-verify-key-out-exists", f"{G} --verify-key-out existing.json", "already exists"),
    case("gw-verify-key-out-no-sealing", f"{G} --seal-interval 0 --verify-key-out vk.txt", "needs sealing"),
    case("gw-verify-key-out-folder", f"{G} --verify-key-out dir", "is a folder"),
    case("gw-ike-port-range", f"{G} --ike-port 70000", "--ike-port"),
    case("gw-ssh-port-negative", f"{G} --ssh-port -1", "--ssh-port"),
    case("gw-config-proposal-string", f"{G} --config proposal-string.toml", "ike_proposals"),
    case("gw-config-timeout-inf", f"{G} --config timeout-inf.toml", "finite"),
    case("gw-config-half-open-0", f"{G} --config half-open-0.toml", "max_half_open"),
    case("gw-config-host-key-junk", f"{G} --config host-key-junk.toml", "SSH host key"),
    case("gw-host-key-junk", f"{G} --host-key text.log", "SSH host key"),
    case("gw-seed-not-hex", f"{G} --seed zz", "seed"),
    case("gw-syslog-bad", f"{G} --syslog notanaddr", "syslog"),
    case("gw-syslog-format", f"{G} --syslog-format xml", "syslog"),
    case("gw-host-key-missing", f"{G} --host-key none.pem", "not found"),
    case("gw-listen-external", f"{G} --listen 8.8.8.8", "loopback"),
    # client: everything is checked before a packet is sent
    case("client-ike-port-high", f"{C} --ike-port 70000", "--ike-port"),
    case("client-ike-port-negative", f"{C} --ike-port -1", "--ike-port"),
    case("client-natt-port-zero", f"{C} --natt-port 0", "--natt-port"),
    case("client-messages-negative", f"{C} -n -1", "--messages"),
    case("client-pings-negative", f"{C} --pings -1", "--pings"),
    case("client-pings-huge", f"{C} --pings 100000", "--pings"),
    case("client-timeout-negative", "client --timeout -1", "--timeout"),
    case("client-timeout-zero", "client --timeout 0", "--timeout"),
    case("client-timeout-nan", "client --timeout nan", "--timeout"),
    case("client-udp-not-an-address", f"{C} --udp notanaddr", "--udp"),
    case("client-udp-bad-port", f"{C} --udp 198.51.100.10:99999", "--udp"),
    case("client-udp-outside-selector", f"{C} --udp 10.0.0.1:7", "outside the protected network"),
    case("client-ike-version", f"{C} -V 3", "--ike-version"),
    case("client-bad-proposal", f"{C} --proposal nonsense", "nonsense"),
    case("client-bad-esp-proposal", f"{C} --esp-proposal nonsense", "nonsense"),
    case("client-bad-local-ts", f"{C} --local-ts notanet", "--local-ts"),
    case("client-cert-alone", f"{C} --cert td.json", "--cert, --key and --ca"),
    case("client-cert-missing", f"{C} --cert none.crt --key none.pem --ca none.crt", "not found"),
    case("client-cert-not-a-cert", f"{C} --cert td.json --key td.json --ca td.json", "td.json"),
    case("client-psk-and-cert", f"{C} --psk x --cert a --key b --ca c", "not both"),
    case("client-ipv6-server", f"{C} ::1", "unknown host"),
    case("client-empty-server", ["client", "", "--timeout", "1"], "gateway's address"),
    case("client-empty-local-id", ["client", "--local-id", "", "--timeout", "1"], "--local-id"),
    case("client-bad-remote-ts", f"{C} --remote-ts 10.0.0.0/33", "--remote-ts"),
    # pki init
    case("pki-no-folder", "pki init", "Missing argument"),
    case("pki-empty-gateway-id", ["pki", "init", "newpki", "--gateway-id", ""], "--gateway-id"),
    case(
        "pki-control-client-id", ["pki", "init", "newpki", "--client-id", "a\x1bb"], "--client-id"
    ),
    case("pki-long-id", ["pki", "init", "newpki", "--gateway-id", "g" * 65], "--gateway-id"),
    case("pki-key-size-huge", "pki init newpki --key-size 65536", "--key-size"),
    case("pki-key-size-small", "pki init newpki --key-size 512", "--key-size"),
    case("pki-folder-is-a-file", "pki init fw.img", "not a folder"),
    case("pki-would-overwrite", "pki init pkidir", "would overwrite"),
    # decrypt: every check before the sweep
    case("decrypt-no-outdir", D, "Missing option"),
    case("decrypt-capture-missing", "decrypt none.pcap --trapdoor td.json -o out", "not found"),
    case("decrypt-capture-folder", "decrypt dir --trapdoor td.json -o out", "no capture files in dir"),
    case("decrypt-capture-device", "decrypt /dev/zero --trapdoor td.json -o out", "not a regular"),
    case("decrypt-trapdoor-missing", "decrypt empty.pcap --trapdoor none.json -o out", "not found"),
    case("decrypt-trapdoor-public-only", "decrypt empty.pcap --trapdoor q.json -o out", "format"),
    case("decrypt-outdir-dev-full", f"{D} -o /dev/full", "not a folder"),
    case("decrypt-outdir-file", f"{D} -o fw.img", "not a folder"),
    case("decrypt-outdir-under-file", f"{D} -o fw.img/out", "not a folder"),
    case("decrypt-state-cache-dev-full", f"{D} -o out --state-cache /dev/full", "not a regular"),
    case("decrypt-state-cache-folder", f"{D} -o out --state-cache dir", "is a folder"),
    case(
        "decrypt-state-cache-missing-folder",
        f"{D} -o out --state-cache nodir/c.json",
        "does not exist",
    ),
    case("decrypt-state-cache-corrupt", f"{D} -o out --state-cache cache-bad.json", "unreadable"),
    case("decrypt-steps-huge", f"{D} -o out --steps 1000000000", "--steps"),
    case("decrypt-steps-zero", f"{D} -o out --steps 0", "--steps"),
    case("decrypt-quirk-shifts", f"{D} -o out --quirk-shifts 9", "--quirk-shifts"),
    case("decrypt-exponent-bytes", f"{D} -o out --exponent-bytes 0", "--exponent-bytes"),
    case("decrypt-engine", f"{D} -o out --engine spark", "spark"),
    case("decrypt-workers-zero", f"{D} -o out --workers 0", "--workers"),
    case("decrypt-wordlist-missing", f"{D} -o out --psk-wordlist none.txt", "not found"),
    case("decrypt-wordlist-folder", f"{D} -o out --psk-wordlist dir", "is a folder"),
    case("decrypt-not-a-capture", "decrypt text.log --trapdoor td.json -o out", "pcap"),
    # scan
    case("scan-no-paths", "scan", "Missing argument"),
    case("scan-missing", "scan none.bin", "no such file"),
    case("scan-dev-null", "scan /dev/null", "not a regular file"),
    case("scan-format", "scan -f xml fw.img", "unknown format"),
    case("scan-engine", "scan --engine foo fw.img", "unknown engine"),
    case("scan-output-dev-full", "scan -o /dev/full fw.img", "not a regular file"),
    case("scan-output-missing-folder", "scan -o nodir/r.json fw.img", "does not exist"),
    case("scan-output-folder", "scan -o dir fw.img", "is a folder"),
    case("scan-yara-dev-full", "scan --export-yara /dev/full fw.img", "not a regular file"),
    case("scan-yara-missing-folder", "scan --export-yara nodir/x.yar fw.img", "does not exist"),
    case("scan-same-outputs", "scan -o r.json --export-yara r.json fw.img", "different files"),
    case("scan-max-member", "scan --max-member-mib 0 fw.img", "--max-member-mib"),
    # diff
    case("diff-folder", "diff dir fw.img", "is a folder"),
    case("diff-missing", "diff fw.img none.img", "not found"),
    case("diff-device", "diff fw.img /dev/null", "not a regular file"),
    case("diff-format", "diff -f xml fw.img fw21.img", "unknown format"),
    case("diff-one-image", "diff fw.img", "Missing argument"),
    # fingerprint
    case("fingerprint-missing", "fingerprint none.pcap", "not found"),
    case("fingerprint-folder", "fingerprint dir", "is a folder"),
    case("fingerprint-not-a-capture", "fingerprint text.log", "text.log"),
    case("fingerprint-alpha", "fingerprint --alpha 2 empty.pcap", "--alpha"),
    case("fingerprint-format", "fingerprint -f xml empty.pcap", "unknown format"),
    # logs
    case("logs-binary", "logs bin.log", "binary file"),
    case("logs-missing", "logs none.log", "not found"),
    case("logs-folder", "logs dir", "is a folder"),
    case("logs-device", "logs /dev/zero", "not a regular file"),
    case("logs-allow", "logs --allow notanet text.log", "--allow"),
    case("logs-format", "logs -f xml text.log", "unknown format"),
    case("logs-sigma-dev-full", "logs --export-sigma /dev/full text.log", "not a regular file"),
    case("logs-sigma-missing-folder", "logs --export-sigma nodir/s.yml text.log", "does not exist"),
    case("logs-sigma-folder", "logs --export-sigma dir text.log", "is a folder"),
    case("logs-sigma-then-binary", "logs --export-sigma s.yml bin.log", "binary file"),
    case("logs-verify-key", "logs --verify-key junk text.log", "--verify-key"),
    case("logs-now", "logs --now yesterday text.log", "--now"),
    case("logs-collector-missing", "logs --collector none.log text.log", "not found"),
    case("logs-collector-binary", "logs --collector bin.log text.log", "binary file"),
    # advisory
    case("advisory-nothing", "advisory", "--inventory"),
    case("advisory-bad-version", "advisory 9.9", "9.9"),
    case("advisory-inventory-missing", "advisory --inventory none.csv", "not found"),
    case("advisory-inventory-folder", "advisory --inventory dir", "is a folder"),
    case("advisory-inventory-not-utf8", "advisory --inventory inv-nonutf8.csv", "UTF-8"),
    case(
        "advisory-inventory-bad-rows", "advisory --inventory inv-bad.csv", "could not be assessed"
    ),
    case("advisory-format", "advisory -f xml 6.3.0r20", "unknown format"),
    case("advisory-inventory-no-version", "advisory --inventory inv-no-version.csv", "'version'"),
    # signatures
    case("signatures-dev-full", "signatures -o /dev/full", "not a regular file"),
    case("signatures-missing-folder", "signatures -o nodir/x.rules", "does not exist"),
    case("signatures-folder", "signatures -o dir", "is a folder"),
    case("signatures-password", "signatures --master-password pässword", "printable ASCII"),
    # demo: checked before any gateway boots
    case("demo-out-dev-full", "demo --out /dev/full", "not a folder"),
    case("demo-out-file", "demo --out fw.img", "not a folder"),
    case("demo-scenario", "demo --scenario nope", "unknown scenario"),
    case("demo-workers", "demo --workers 0", "--workers"),
    case("demo-probes", "demo --survey-probes 99999", "--survey-probes"),
    case("demo-user", ["demo", "--user", ""], "--user"),
    # supplychain and audit (issue 15's commands)
    case("bare-supplychain-group", "supplychain", "missing command"),
    case("sc-init-scenario", "supplychain init newrepo --scenario nope", "unknown scenario"),
    case("sc-init-file", "supplychain init fw.img", "not an empty folder"),
    case("sc-init-trapdoor-missing", "supplychain init newrepo --trapdoor none.json", "not found"),
    case("sc-init-trapdoor-p384", "supplychain init newrepo --trapdoor td384.json", "P-256"),
    case("sc-build-dev-full", "supplychain build dir v1 -o /dev/full", "not a regular file"),
    case("sc-build-not-a-repo", "supplychain build dir v1 -o x.img", "not a git repository"),
    case("audit-repo-missing", "audit nodir --images dir", "no such folder"),
    case("audit-images-missing", "audit dir --images nodir", "no such folder"),
    case("audit-format", "audit dir --images dir -f xml", "unknown format"),
    case("audit-root-key", "audit dir --images dir --root-key abc", "--root-key"),
    case("audit-out-file", "audit dir --images dir --out fw.img", "not a folder"),
]

SUBPROCESS_ROWS = (
    "unknown-command",
    "keygen-output-dev-full",
    "keygen-public-missing-folder",
    "prng-count-zero",
    "recover-short",
    "fw-build-output-dev-full",
    "fw-build-needs-trapdoor",
    "fw-info-folder",
    "gw-config-admin-1",
    "gw-config-ports-ikee",
    "gw-config-deep-json",
    "gw-config-pbkdf2-cost",
    "gw-run-for-negative",
    "client-udp-not-an-address",
    "client-ike-port-high",
    "pki-key-size-huge",
    "pki-empty-gateway-id",
    "decrypt-state-cache-dev-full",
    "decrypt-steps-huge",
    "scan-dev-null",
    "diff-folder",
    "fingerprint-not-a-capture",
    "logs-binary",
    "advisory-inventory-bad-rows",
    "signatures-dev-full",
    "demo-out-dev-full",
)
"""Rows also run through ``python -m kleptolab`` in a subprocess (the real entry point)."""

READ_ONLY_ROWS: list[Case] = [
    case("ro-keygen", "keygen -o ro/k.json", "not writable"),
    case("ro-keygen-public", "keygen -o k.json --public-out ro/q.json", "not writable"),
    case("ro-firmware-build", "firmware build --profile 6.3.0r21 -o ro/x.img", "not writable"),
    case("ro-scan-output", "scan -o ro/r.json fw.img", "not writable"),
    case("ro-scan-yara", "scan --export-yara ro/x.yar fw.img", "not writable"),
    case("ro-logs-sigma", "logs --export-sigma ro/s.yml text.log", "not writable"),
    case("ro-signatures", "signatures -o ro/x.rules", "not writable"),
    case("ro-decrypt-outdir", f"{D} -o ro/out", "not writable"),
    case("ro-decrypt-state-cache", f"{D} -o out --state-cache ro/c.json", "not writable"),
    case("ro-demo-out", "demo --out ro/out", "not writable"),
    case("ro-pki-init", "pki init ro/pki", "not writable"),
]
"""Output paths in a read-only folder (a read-only bind mount when the tests run as root)."""

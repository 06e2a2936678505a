"""The scanner: variants, contexts, replaced Q, containers, output formats, YARA."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from kleptolab.defend.constants import CONSTANTS, Verdict, constant_by_id
from kleptolab.defend.containers import Limits
from kleptolab.defend.engine import scan_buffer
from kleptolab.defend.engine_binary import _ff_anchors
from kleptolab.defend.patterns import STRIDE, pattern_index
from kleptolab.defend.report import scan_json, scan_sarif
from kleptolab.defend.scan import scan_bytes, scan_paths
from kleptolab.drbg.curves import P256
from kleptolab.drbg.trapdoor import Trapdoor

RNG = random.Random(7)


def noise(n: int) -> bytearray:
    return bytearray(RNG.getrandbits(8) for _ in range(n))


def full_hits(buf: bytes, ident: str) -> list[tuple[int, str]]:
    return [(h.offset, h.variant) for h in scan_buffer(buf)
            if h.constant is not None and h.constant.id == ident and not h.partial]


@pytest.mark.parametrize(("phase", "thorough"), [(0, True), (5, True), (11, False), (23, False)])
def test_every_binary_layout_found_at_any_alignment(phase: int, thorough: bool) -> None:
    """Default mode guarantees every high-entropy layout; thorough mode every layout."""
    index = pattern_index()
    low_entropy = {n for pairs in index.fallback.values() for n, _ in pairs}
    assert {index.patterns[n].constant.id for n in low_entropy} == {
        "p256-p", "p256-a", "p256-n", "p384-p", "p384-a"}
    buf = noise(len(index.patterns) * 160 + 1024)
    planted = []
    for k, p in enumerate(index.patterns):
        off = 512 + k * 160 + phase
        buf[off : off + len(p.data)] = p.data
        planted.append((p.constant.id, p.variant, off))
    hits = {(h.constant.id, h.variant, h.offset) for h in scan_buffer(bytes(buf), thorough=thorough)
            if h.constant is not None and not h.partial}
    must = [x for k, x in enumerate(planted) if thorough or k not in low_entropy]
    assert [x for x in must if x not in hits] == []
    assert STRIDE + 7 <= 32
    anchored, needles = _ff_anchors()  # every low-entropy layout sits on a 0xFF run
    assert needles == {} and {a[0] for a in anchored} == low_entropy


@pytest.mark.parametrize("ident", ["nist-p256-qx", "unauthorized-2012-p256-qx", "p384-b",
                                   "nist-p521-qx", "p521-gx", "p256-p"])
def test_hex_text_in_every_case_and_utf16(ident: str) -> None:
    c = constant_by_id(ident)
    h = c.hex
    mixed = "".join(ch.upper() if k % 2 else ch for k, ch in enumerate(h))
    forms = {"hex-lower": h.encode(), "hex-upper": h.upper().encode(), "hex-mixed": mixed.encode(),
             "hex-upper-utf16le": h.upper().encode("utf-16-le")}
    if not any(ch.isalpha() for ch in h):
        pytest.skip("no letters")
    buf = noise(4096)
    where = {}
    for k, (variant, raw) in enumerate(forms.items()):
        off = 100 + 900 * k
        buf[off : off + len(raw)] = raw
        where[off] = variant
    assert dict(full_hits(bytes(buf), ident)) == where


def test_p521_leading_zero_context_in_hex_and_binary() -> None:
    c = constant_by_id("p521-gx")
    assert c.value is not None
    buf = noise(2048)
    text = f"{c.value:0132x}".encode()  # with the leading zeros
    buf[100 : 100 + len(text)] = text
    buf[600:601] = b"\x00"
    buf[601 : 601 + 65] = c.value.to_bytes(65, "big")
    hits = {h.variant: h for h in scan_buffer(bytes(buf)) if h.constant == c and not h.partial}
    assert "leading-zero" in hits["hex-lower"].context
    assert hits["be"].offset == 601 and "leading-zero" in hits["be"].context


def test_sec1_and_der_contexts() -> None:
    qx, qy = constant_by_id("nist-p256-qx"), constant_by_id("nist-p256-qy")
    sec1 = b"\x04" + qx.be_bytes() + qy.be_bytes()
    der = b"\x02\x21\x00" + qx.be_bytes()  # top bit of Qx is set: DER pads with 00
    buf = noise(1024)
    buf[100 : 100 + len(sec1)] = sec1
    buf[400 : 400 + len(der)] = der
    found = {h.offset: h.context for h in scan_buffer(bytes(buf))
             if h.constant == qx and h.variant == "be"}
    assert "sec1-uncompressed" in found[101]
    assert "der-integer" in found[403]


def test_partial_match_has_low_confidence() -> None:
    c = constant_by_id("juniper-p256-qx")
    buf = noise(2048)
    buf[300 : 300 + 40] = c.hex.encode()[:40]
    buf[1000 : 1000 + 31] = c.be_bytes()[:31]
    hits = [h for h in scan_buffer(bytes(buf)) if h.constant == c]
    assert hits and all(h.partial and h.confidence == "low" for h in hits)
    assert {h.offset for h in hits} == {300, 1000}


def _string_table(qx: str) -> bytes:
    params = [f"{v:064X}" for v in (P256.p, P256.a, P256.b, P256.gx, P256.n)]
    strings = [*params, "ERROR Out Of Memory: DH priv val.", qx,
               "interrupt disabled and no entropy ", "a" * 64]
    return b"\x7fELF" + bytes(noise(300)) + b"\x00".join(s.encode() for s in strings) + b"\x00"


def test_replaced_q_next_to_p256_parameters(trapdoor: Trapdoor) -> None:
    lab_qx = f"{trapdoor.q[0]:064X}"
    hits = scan_buffer(_string_table(lab_qx))
    replaced = [h for h in hits if h.verdict is Verdict.REPLACED_Q]
    assert len(replaced) == 1 and replaced[0].value == lab_qx.lower()
    assert "valid-x" in replaced[0].context
    # the 64-digit run that is not next to the parameters is not reported
    assert not any(h.value == "a" * 64 for h in hits)


def test_known_q_next_to_parameters_is_classified_not_replaced() -> None:
    for ident, verdict in (("juniper-p256-qx", Verdict.KNOWN_GOOD),
                           ("unauthorized-2012-p256-qx", Verdict.KNOWN_BAD)):
        hits = scan_buffer(_string_table(constant_by_id(ident).hex.upper()))
        q = [h for h in hits if h.role == "Qx" or h.role == "Qx?"]
        assert len(q) == 1 and q[0].verdict is verdict
        assert "next-to-curve-parameters" in q[0].context


def test_master_password_strings() -> None:
    buf = noise(1000)
    buf[100:120] = b"<<< %s(un='%s') = %u"
    buf[500:540] = "<<< %s(un='%s') = %u".encode("utf-16-le")
    buf[700:707] = b"<<< %s("  # a look-alike prefix alone is nothing
    hits = [(h.offset, h.variant) for h in scan_buffer(bytes(buf))
            if h.constant == constant_by_id("screenos-master-password")]
    assert sorted(hits) == [(100, "ascii"), (500, "utf16le")]


def _payload() -> bytes:
    buf = noise(4000)
    buf[1000:1064] = constant_by_id("nist-p256-qx").hex.encode()
    return bytes(buf)


def test_archives_are_recursed_with_inner_paths(tmp_path: Path) -> None:
    inner_zip = io.BytesIO()
    with zipfile.ZipFile(inner_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("org/x/Dual.class", _payload())
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w") as tf:
        for name, data in (("fw/a.bin.xz", lzma.compress(_payload())),
                           ("fw/b.bin.bz2", bz2.compress(_payload())),
                           ("lib/c.jar", inner_zip.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(gzip.compress(tar_buf.getvalue()))
    result = scan_paths([tmp_path])
    where = sorted(f.inner or "" for f in result.findings if f.hit.constant
                   and f.hit.constant.id == "nist-p256-qx")
    assert where == ["gzip@0x0 → fw/a.bin.xz → xz@0x0", "gzip@0x0 → fw/b.bin.bz2 → bzip2@0x0",
                     "gzip@0x0 → lib/c.jar → org/x/Dual.class"]
    assert result.files == 1 and not result.warnings


def test_zip_bomb_and_corrupt_archives_warn(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\x00" * (8 << 20))
    result = scan_bytes("bomb.zip", bomb.getvalue())
    assert any("possible decompression bomb" in w for w in result.warnings)
    small = scan_bytes("big.gz", gzip.compress(b"\x00" * (3 << 20)),
                       limits=Limits(max_member=1 << 20, max_ratio=10**6))
    assert any("truncated at the 1 MiB member limit" in w for w in small.warnings)
    broken = scan_bytes("broken.zip", b"PK\x03\x04" + b"\x00" * 100 + _payload())
    assert any("corrupt" in w for w in broken.warnings)
    assert any(f.hit.constant and f.hit.constant.id == "nist-p256-qx" for f in broken.findings)
    huge = scan_bytes("huge.gz", gzip.compress(_payload()), limits=Limits(max_total=100))
    assert any("over the 0 MiB expansion limit" in w for w in huge.warnings)
    deep = _payload()
    for _ in range(6):
        deep = gzip.compress(deep)
    nested = scan_bytes("deep.gz", deep)
    assert any("nesting deeper than 4" in w for w in nested.warnings)


def test_json_and_sarif_documents(tmp_path: Path) -> None:
    path = tmp_path / "fw.bin"
    path.write_bytes(_string_table(constant_by_id("unauthorized-2012-p256-qx").hex.upper()))
    result = scan_paths([path])
    doc = json.loads(json.dumps(scan_json(result)))
    assert doc["summary"]["known-bad"] == 1 and doc["files"] == 1
    sarif = scan_sarif(result)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    bad = [r for r in run["results"] if r["ruleId"] == "unauthorized-2012-p256-qx"]
    assert len(bad) == 1 and bad[0]["level"] == "error"
    region = bad[0]["locations"][0]["physicalLocation"]["region"]
    assert path.read_bytes()[region["byteOffset"] : region["byteOffset"] + region["byteLength"]] \
        == constant_by_id("unauthorized-2012-p256-qx").hex.upper().encode()
    assert all(r["ruleId"] in rule_ids for r in run["results"])


def test_yara_export_compiles_and_matches_the_same_files(tmp_path: Path) -> None:
    yara = pytest.importorskip("yara", reason="yara-python is not installed")
    from kleptolab.defend.yara_rules import export_yara, rule_name, scan_buffer_yara

    rules = yara.compile(source=export_yara())
    index = pattern_index()
    buf = noise(len(index.patterns) * 160 + 20000)
    for k, p in enumerate(index.patterns):
        buf[512 + k * 160 : 512 + k * 160 + len(p.data)] = p.data
    tail = len(index.patterns) * 160 + 1000
    for c in CONSTANTS:
        raw = c.text.encode() if c.text is not None else c.hex.upper().encode()
        buf[tail : tail + len(raw)] = raw
        tail += len(raw) + 5
    data = bytes(buf)
    python_ids = {h.constant.id for h in scan_buffer(data, thorough=True)
                  if h.constant and not h.partial}
    yara_rules = {m.rule for m in rules.match(data=data)}
    assert yara_rules == {rule_name(c) for c in CONSTANTS if c.id in python_ids}
    assert python_ids == {c.id for c in CONSTANTS}
    engine_hits = {(h.constant.id, h.offset) for h in scan_buffer_yara(data) if h.constant}
    python_hits = {(h.constant.id, h.offset) for h in scan_buffer(data, thorough=True)
                   if h.constant and not h.partial}
    assert engine_hits == python_hits


def test_bouncy_castle_jar_holds_the_nist_q_points() -> None:
    jar = Path("/usr/share/java/bcprov.jar")
    if not jar.exists():
        pytest.skip("Bouncy Castle jar missing: apt-get install libbcprov-java")
    result = scan_paths([jar])
    found = {(f.hit.constant.id, f.inner) for f in result.findings if f.hit.constant}
    for ident in ("nist-p256-qx", "nist-p384-qx", "nist-p521-qx",
                  "nist-p256-qy", "nist-p384-qy", "nist-p521-qy"):
        assert (ident, "org/bouncycastle/crypto/prng/drbg/DualECSP800DRBG.class") in found
    assert not any(f.hit.verdict in (Verdict.KNOWN_BAD, Verdict.REPLACED_Q) for f in result.findings)

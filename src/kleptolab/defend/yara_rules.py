"""YARA export of the constant table, and yara-python as an optional engine.

:func:`export_yara` writes one rule per constant (hex text ``nocase ascii
wide``, every binary layout as a hex string, strings ``ascii wide``) with the
provenance in ``meta``.  :func:`scan_buffer_yara` runs those rules through
yara-python (>= 4.3 ``StringMatch.instances`` API, behind this one adapter)
and maps matches back to :class:`~kleptolab.defend.engine.Hit`; the hex-run
pass of the pure engine still supplies the replaced-Q heuristic.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kleptolab import __version__
from kleptolab.defend import engine, engine_binary
from kleptolab.defend.constants import CONSTANTS, KnownConstant, constant_by_id
from kleptolab.defend.engine import Buf, Hit
from kleptolab.defend.patterns import binary_layouts

__all__ = ["YaraUnavailable", "export_yara", "rule_name", "scan_buffer_yara"]


class YaraUnavailable(RuntimeError):
    """yara-python is not installed (``pip install yara-python``)."""


def rule_name(constant: KnownConstant) -> str:
    """The YARA rule name of a table row, e.g. ``kleptolab_nist_p256_qx``."""
    return "kleptolab_" + constant.id.replace("-", "_")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _rule(c: KnownConstant) -> str | None:
    strings: list[str] = []
    if c.text is not None:
        strings.append(f'        $text = "{_quote(c.text)}" ascii wide')
    else:
        strings.append(f'        $hex = "{c.hex}" nocase ascii wide')
        digits = c.hex.zfill(-(-len(c.hex) // 8) * 8)  # bn.js pads to whole 8-digit groups
        groups = " ".join(digits[k : k + 8] for k in range(0, len(digits), 8))
        strings.append(f'        $spaced = "{groups}" nocase ascii')
        strings.append(f'        $dec = "{c.value}" fullword ascii wide')
        for pattern in binary_layouts(c):
            ident = pattern.variant.replace("-", "_")
            strings.append(f"        ${ident} = {{ {pattern.data.hex(' ')} }}")
    meta = {
        "id": c.id,
        "curve": c.curve or "",
        "role": c.role,
        "verdict": c.verdict.value,
        "source": c.source,
        "generator": f"kleptolab {__version__}",
    }
    meta_lines = "\n".join(f'        {k} = "{_quote(v)}"' for k, v in meta.items())
    return (
        f"rule {rule_name(c)}\n{{\n    meta:\n{meta_lines}\n    strings:\n"
        + "\n".join(strings)
        + "\n    condition:\n        any of them\n}\n"
    )


def export_yara() -> str:
    """YARA source for every constant of the table."""
    header = (
        "// Dual EC / ScreenOS constants exported by kleptolab (defensive indicators only).\n"
        "// Hex text: nocase ascii wide, also in 8-digit groups (bn.js); decimal (fullword);\n"
        "// binary: be, le, 32/64-bit limb orders.\n\n"
    )
    return header + "\n".join(r for r in (_rule(c) for c in CONSTANTS) if r)


@cache
def _compiled() -> Any:
    try:
        import yara
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise YaraUnavailable("the yara engine needs yara-python: pip install yara-python") from exc
    return yara.compile(source=export_yara())


def _hex_variant(data: bytes) -> str:
    wide = len(data) > 1 and data[1] == 0
    text = (data[::2] if wide else data).decode("ascii", "replace")
    case = "hex-lower" if text == text.lower() else "hex-upper" if text == text.upper() else "hex-mixed"
    return case + ("-utf16le" if wide else "")


def scan_buffer_yara(buf: Buf, *, thorough: bool = True) -> list[Hit]:
    """Scan ``buf`` with yara-python; raises :class:`YaraUnavailable` without it.

    YARA searches every layout of every constant, so it is always thorough.
    """
    rules = _compiled()
    hits: list[Hit] = []
    data = buf if isinstance(buf, bytes) else bytes(buf)
    for match in rules.match(data=data):
        c = constant_by_id(match.meta["id"])
        for string in match.strings:
            ident = string.identifier.lstrip("$")
            for inst in string.instances:
                raw = bytes(inst.matched_data)
                if ident == "hex":
                    variant, value = _hex_variant(raw), c.hex
                elif ident in ("spaced", "dec"):
                    variant = "hex-spaced" if ident == "spaced" else "decimal"
                    value = c.hex
                    if len(raw) > 1 and raw[1] == 0:
                        variant += "-utf16le"
                elif ident == "text":
                    wide = len(raw) > 1 and raw[1] == 0
                    variant, value = ("utf16le" if wide else "ascii"), c.text or ""
                else:
                    variant, value = ident.replace("_", "-"), raw.hex()
                context: tuple[str, ...] = ()
                if variant == "be":
                    context = tuple(engine_binary._binary_context(buf, c, inst.offset, len(raw)))
                hits.append(Hit(inst.offset, inst.matched_length, c, variant, c.verdict, "high",
                                False, value, c.curve, c.role, context))
    with memoryview(buf) as mv:
        runs = engine.hex_runs(buf, mv)
    per_run = engine._all_run_hits(runs)
    hits.extend(engine._replaced_q(runs, per_run))
    return engine._suppress(hits)

"""The demo's self-contained HTML report.

``render_report(run)`` turns a :class:`~kleptolab.lab.model.DemoRun` into one
HTML page with no external resources: inline CSS, an inline SVG plot, and
every value HTML-escaped.  Each section carries a stable ``id`` so tests (and
readers) can find it: ``timeline``, ``prng-draws``, ``keys``, ``plaintext``,
``unlocks``, ``detectors``, ``recovery-work``, ``patched``, ``rekeys`` when
IKE SAs were rekeyed, and, when a stage went wrong, ``problems``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from html import escape
from typing import Any

from kleptolab.lab.model import DemoRun, PhaseResult, RecoveryWork

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:1.5rem 2rem}
header h1{margin:0 0 .3rem 0;font-size:1.6rem}
main{padding:1rem 2rem;max-width:1200px}
section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
h2{margin-top:.2rem;font-size:1.25rem}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f2f5}
code,.hex{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;word-break:break-all}
.lab{color:#5b6472}.victim{color:#8a5a00}.attacker{color:#b00020}.defender{color:#00668a}
.ok{color:#0a7d32;font-weight:600}.fail{color:#b00020;font-weight:600}
.match{background:#e8f7ec}.mismatch{background:#fde8ea}.stale{background:#fff4d6}
.small{color:#5b6472;font-size:.85rem}
#problems{border-left:6px solid #b00020}
pre{background:#f0f2f5;padding:.6rem;border-radius:6px;overflow-x:auto;font-size:.8rem}
"""


def render_report(
    run: DemoRun, problems: Sequence[str] = (), rekey_chains: Sequence[Mapping[str, Any]] = ()
) -> str:
    """Return the complete HTML page for ``run`` (``problems``: stages that went wrong;
    ``rekey_chains``: the decryptor's report.json ``ike_rekey_chains``)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>kleptolab: the ScreenOS Dual EC incident, reproduced</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>The ScreenOS Dual EC incident, reproduced</h1>",
        f'<div class="small">kleptolab {escape(run.kleptolab_version)} · seed '
        f"<code>{run.seed}</code> · scenario <code>{escape(run.scenario)}</code> · "
        f"lab trapdoor Q<sub>x</sub> <code>{escape(run.trapdoor_qx[:16])}…</code></div></header>",
        "<main>",
        _problems(problems),
        _summary(run),
        _timeline(run),
        _draws(run.backdoored),
        _unlocks(run.backdoored),
        _keys(run.backdoored),
        rekeys_section(rekey_chains),
        _plaintext(run.backdoored),
        _detectors(run),
        _log_act(run),
        _recovery_plot(_all_recovery(run)),
        _patched(run),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _problems(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return _section("problems", "Problems in this run", f"<ul>{items}</ul>",
                    "These stages did not behave as the firmware profile says they should.")


def _all_recovery(run: DemoRun) -> list[RecoveryWork]:
    work = []
    for phase in (run.backdoored, run.patched):
        if phase is not None:
            work += [replace(w, session=f"{phase.firmware_version} {w.session}") for w in phase.recovery]
    return work


def _section(section_id: str, title: str, body: str, intro: str = "") -> str:
    lead = f'<p class="small">{escape(intro)}</p>' if intro else ""
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{lead}{body}</section>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], row_classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if i < len(row_classes) and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="small">(none)</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status(ok: bool, yes: str = "yes", no: str = "no") -> str:
    """``yes`` in green when ``ok`` (good for the victim), else ``no`` in red."""
    return f'<span class="ok">{escape(yes)}</span>' if ok else f'<span class="fail">{escape(no)}</span>'


def _summary(run: DemoRun) -> str:
    b, p = run.backdoored, run.patched
    rows = [
        [escape(phase.firmware_version), _status(not phase.vpn_decrypted, "not decrypted", "decrypted"),
         _status(not phase.backdoor_login, "rejected", "accepted"), escape(phase.reason)]
        for phase in (b, p) if phase is not None
    ]
    transcript = ""
    if b.login_transcript:
        transcript = (f"<h3>The attacker on the {escape(b.firmware_version)} console</h3>"
                      f"<pre>{escape(b.login_transcript)}</pre>")
    return _section(
        "summary",
        "Outcome",
        _table(["firmware", "passive VPN decryption", "master-password login", "why"], rows) + transcript,
        "The same client traffic and the same attacker, against the backdoored release and the fixed one.",
    )


def _timeline(run: DemoRun) -> str:
    rows = [
        [str(e.step), f'<span class="{escape(e.actor)}">{escape(e.actor)}</span>', escape(e.text)]
        for e in run.timeline
    ]
    return _section("timeline", "Timeline of the incident", _table(["#", "who", "what"], rows),
                    "In order; the wall-clock offset of each step is in timings.json.")


def _draws(phase: PhaseResult) -> str:
    rows = [
        [str(d.index), escape(d.purpose), f'<span class="hex">{escape(d.hex)}</span>', escape(d.used_in)]
        for d in phase.draws
    ]
    return _section(
        "prng-draws",
        "PRNG draws on the victim",
        _table(["#", "purpose", "PRNG output", "became"], rows),
        "Every firmware PRNG call in order. On 6.2/6.3 the reseed cascade bug makes each 32-byte "
        "output raw Dual EC (30 bytes of one block and 2 of the next); 6.1 draws 20 bytes of X9.31.",
    )


def _unlocks(phase: PhaseResult) -> str:
    def draw(value: int | None) -> str:
        return "?" if value is None else str(value)

    rows = [
        [str(u.connection), f"IKEv{u.version} <code>{escape(u.session.split(':')[0])}</code>", draw(u.key_draw),
         draw(u.nonce_draw), escape(u.recovered_by), escape(u.text)]
        for u in phase.unlocks
    ]
    classes = ["stale" if u.key_draw is not None and u.nonce_draw is not None and u.key_draw < u.nonce_draw
               else "" for u in phase.unlocks]
    return _section(
        "unlocks",
        "Which nonce unlocked which connection",
        _table(["connection", "IKE SA", "key draw", "nonce draw", "state behind its nonce", "unlocked by"],
               rows, classes),
        "Draw numbers are the gateway's PRNG calls (its draw log); the attacker only sees the capture. "
        "A key drawn before its own nonce (highlighted) cannot be predicted from that nonce: the walk "
        "only goes forward, so an earlier connection's nonce unlocks it (CCS16 Figure 2).",
    )


def _keys(phase: PhaseResult) -> str:
    rows = [
        [escape(k.session), escape(k.name), f'<span class="hex">{escape(k.hex)}</span>', escape(k.source)]
        for k in phase.keys
    ]
    return _section("keys", "Keys recovered by the passive attacker", _table(["session", "key", "value", "how"], rows))


def _plaintext(phase: PhaseResult) -> str:
    rows = [[escape(p.session), f"<code>{escape(p.sent)}</code>", f"<code>{escape(p.decrypted)}</code>"] for p in phase.plaintext]
    classes = ["match" if p.sent == p.decrypted else "mismatch" for p in phase.plaintext]
    return _section(
        "plaintext",
        "What the client sent vs. what the attacker read",
        _table(["session", "client sent", "attacker decrypted"], rows, classes),
    )


def _detectors(run: DemoRun) -> str:
    rows = [
        [f'<span class="defender">{escape(f.tool)}</span>', escape(f.target), escape(f.severity), escape(f.finding)]
        for f in run.findings
    ]
    return _section("detectors", "What the defender finds", _table(["tool", "target", "severity", "finding"], rows))


def _log_act(run: DemoRun) -> str:
    """The attacker erases its logon lines; the sealed log still convicts (issue: forward-secure sealing)."""
    rows = []
    for phase in (run.backdoored, run.patched):
        if phase is None:
            continue
        event = f"event-{phase.firmware_version}.log"
        found = [f for f in run.findings if f.tool == "logs" and f.target == event]
        verdict = "; ".join(f"[{f.severity}] {f.finding}" for f in found) or "not verified"
        erased = phase.log_erased or "nothing erased"
        rows.append([escape(phase.firmware_version), escape(erased), escape(verdict)])
    intro = ("<p>Logged in with the master password, the attacker types <code>clear event type "
             "515-528</code> to erase its own 00515/00528 lines. The gateway sealed the logon "
             "the moment it was written (forward-secure: the key that MACed it is gone), so the "
             "defender, holding the verification key off the device, still sees what was removed; "
             "the syslog collector's copy still holds the lines.</p>")
    return _section("logact", "The erased logon lines", intro + _table(
        ["firmware", "attacker's clear event", "verification with the key"], rows))


def _recovery_plot(work: Sequence[RecoveryWork]) -> str:
    width, bar_h, gap, left = 760, 22, 8, 300
    height = max(1, len(work)) * (bar_h + gap) + 40
    longest = max((w.candidates for w in work), default=1) or 1
    bars = []
    for i, w in enumerate(work):
        y = 20 + i * (bar_h + gap)
        length = max(2.0, (width - left - 240) * w.candidates / longest)
        detail = (f"{w.candidates} pts · {w.survivors} state(s)" if w.how == "sweep"
                  else f"{w.how}{' · ' + w.note if w.note else ''}")
        fill = "#b00020" if w.how == "sweep" else "#0a7d32"
        bars.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(w.session)}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{fill}" opacity="0.8"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 15}" font-size="12">{escape(detail)}</text>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="state recovery work per session" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        + "".join(bars)
        + "</svg>"
    )
    rows = [[escape(w.session), escape(w.how + (f" ({w.note})" if w.note else "")), str(w.candidates),
             str(w.survivors)] for w in work]
    return _section(
        "recovery-work",
        "State-recovery work",
        svg + _table(["session", "how", "x candidates tried", "surviving states"], rows),
        "Nonces are taken in capture order. A nonce that the walk from an already recovered state "
        "produces is predicted (green): its state is known at no cost. Only the others are swept "
        "(red): 2^16 x candidates, about half on the curve; the 2 extra bytes leave one or two states "
        "(the sweep times are in timings.json). Against the fixed firmware nothing predicts "
        "anything, so every nonce is swept, and the states found predict nothing.",
    )


def _patched(run: DemoRun) -> str:
    phase = run.patched
    if phase is None:
        return _section("patched", "After the upgrade", "<p>The upgrade step did not run.</p>")
    body = _table(
        ["check", "result"],
        [
            ["firmware", escape(phase.firmware_version)],
            ["passive decryption", _status(not phase.vpn_decrypted, "failed", "decrypted")],
            ["master-password login", _status(not phase.backdoor_login, "rejected", "accepted")],
            ["why", escape(phase.reason)],
        ],
    )
    pairs = _table(
        ["session", "client sent", "attacker decrypted"],
        [[escape(p.session), f"<code>{escape(p.sent)}</code>",
          f"<code>{escape(p.decrypted) or '(nothing)'}</code>"] for p in phase.plaintext],
        ["match" if p.sent == p.decrypted else "mismatch" for p in phase.plaintext],
    )
    return _section("patched", "After the upgrade", body + "<h3>The same traffic, after the upgrade</h3>" + pairs)


def rekeys_section(chains: Sequence[Mapping[str, Any]]) -> str:
    """The ``rekeys`` section: each IKEv2 SA chain (RFC 7296 §2.18) and whether every link decrypted."""
    if not chains:
        return ""
    rows = []
    classes = []
    for chain in chains:
        rows.append([f"<code>{escape(str(chain['root']))}</code>", "IKE_SA_INIT", "", "", ""])
        classes.append("")
        for link in chain.get("links", []):
            rows.append([f"<code>{escape(str(link['id']))}</code>", f"rekey (frame {escape(str(link['frame']))})",
                         _status(bool(link["decrypted"])), escape(str(link["child_sas"])),
                         escape(str(link["esp_packets"]))])
            classes.append("match" if link["decrypted"] else "mismatch")
        for sid in chain.get("redundant", []):
            rows.append([f"<code>{escape(str(sid))}</code>", "redundant (simultaneous rekey)", "", "", ""])
            classes.append("stale")
    return _section(
        "rekeys",
        "IKE SA rekey chains",
        _table(["IKE SA (SPIi:SPIr)", "made by", "decrypted", "child SAs", "ESP packets"], rows, classes),
        "Each rekey makes a new IKE SA: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 "
        "§2.18). The attacker needs the old SA's SK_d and the new Diffie-Hellman exponent, which the "
        "same PRNG walk predicts, so the whole chain falls with the first handshake.",
    )

"""``kleptolab demo``: the whole incident on loopback, narrated, with a report at the end.

:func:`run_demo` makes a (seeded) lab trapdoor, builds the backdoored and the
fixed firmware images, and for each runs one phase: the victim's live VPN
traffic through a passive tap and the attacker's master-password login
(:mod:`~kleptolab.lab.victim`), the offline passive decryption
(:mod:`~kleptolab.lab.attacker`) and the defender's tools
(:mod:`~kleptolab.lab.defender`), whose nonce fingerprint runs over the
defender's own survey of the gateway (:mod:`~kleptolab.lab.survey`).  Every outcome is checked against what the
firmware profile says should happen; anything else is a *problem*: the
demo still writes ``run.json`` and ``report.html``, and the CLI exits 1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.lab.attacker import AttackOutcome, run_attack
from kleptolab.lab.defender import (
    DefenderRun,
    advisory_findings,
    diff_findings,
    fingerprint_findings,
    log_findings,
    run_tool,
    scan_findings,
    sealed_log_findings,
)
from kleptolab.lab.draws import draw_records, unlock_records
from kleptolab.lab.model import DemoRun, Finding, PhaseResult, UnlockRecord
from kleptolab.lab.narration import Narrator, bars
from kleptolab.lab.report import render_report
from kleptolab.lab.scenarios import WORDLIST, Scenario, scenario_by_name
from kleptolab.lab.tap import LAB_EPOCH
from kleptolab.lab.victim import LivePhase, PhaseError, run_live_phase

__all__ = [
    "SURVEY_PROBES", "VOLATILE_FILES", "DemoOptions", "DemoOutcome", "Narrator", "fresh_seed", "run_demo",
    "seeded_trapdoor",
]

VOLATILE_FILES = ("timings.json",)
"""Written by every run and never the same twice: wall-clock figures, kept out of run.json."""
PHASE_EPOCH_STEP = 86400.0
"""The patched phase's virtual clock starts a day after the backdoored one's (the upgrade)."""

SURVEY_PROBES = 640
"""IKE_SA_INIT probes of the defender's nonce survey: more than the 589 zero-free nonces that
convict at alpha = 1 %."""


@dataclass(frozen=True)
class DemoOptions:
    """How to run the demo."""

    out: Path = Path("out")
    scenario: str = "default"
    seed: int | None = None
    """None: a fresh random seed (printed and stored in run.json)."""
    workers: int | None = None
    login_user: str = "anyone"
    survey_probes: int = SURVEY_PROBES


@dataclass
class DemoOutcome:
    """The run's data, where it was written, and every unexpected result."""

    run: DemoRun
    out: Path
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, Any] = field(default_factory=dict)
    """Wall-clock figures (timings.json): start time, durations, per-line offsets."""

    @property
    def ok(self) -> bool:
        return not self.problems


def fresh_seed() -> int:
    """A random seed for a run without ``--seed`` (printed and stored, so the run can be repeated)."""
    return secrets.randbelow(2**31)


def _write_wordlist(scenario: Scenario, path: Path) -> int:
    """Write the attacker's IKEv1 PSK wordlist (the scenario's PSK among decoys); return its length."""
    words = list(dict.fromkeys([*WORDLIST[:12], scenario.psk.decode(), *WORDLIST[12:]]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(w + "\n" for w in words), encoding="utf-8")
    return len(words)


def seeded_trapdoor(seed: int) -> Trapdoor:
    """A lab trapdoor derived from ``seed``: e = H(seed) mod n, Q = e*P, d = e^-1 (reproducible)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from kleptolab.drbg.curves import P256

    e = int.from_bytes(hashlib.sha512(f"kleptolab demo trapdoor {seed}".encode()).digest(), "big")
    e = e % (P256.n - 1) + 1
    numbers = ec.derive_private_key(e, ec.SECP256R1()).public_key().public_numbers()
    return Trapdoor(P256, (numbers.x, numbers.y), pow(e, -1, P256.n), e)


def _build_images(scenario: Scenario, trapdoor: Trapdoor, fw_dir: Path) -> dict[str, Path]:
    from kleptolab.device.firmware import build_image

    fw_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    for version in (scenario.backdoored, scenario.patched):
        if version is None:
            continue
        path = fw_dir / f"ssg5-{version}.img"
        path.write_bytes(build_image(version, trapdoor_q=trapdoor.q))
        images[version] = path
    return images


def _login_reason(live: LivePhase) -> str:
    login = live.login
    if login is None:
        return "not tried"
    if login.accepted:
        return f"master password accepted for user {login.username!r}"
    why = "this build has no master password" if live.master_password_in_image is None else "refused"
    return f"{why} ({login.error})"


def _check(problems: list[str], what: str, expected: bool, actual: bool, detail: str) -> None:
    if expected != actual:
        problems.append(f"{what}: expected {'success' if expected else 'failure'}, got "
                        f"{'success' if actual else 'failure'} ({detail})")


def _defend_phase(defender: DefenderRun, live: LivePhase, image: Path) -> None:
    version = live.firmware_version
    syslog = f"syslog-{version}.log"
    run_tool(defender, "scan", image.name, lambda: scan_findings(image))
    run_tool(defender, "advisory", version, lambda: advisory_findings(version))
    run_tool(defender, "logs", syslog, lambda: log_findings(live.syslog_lines, syslog))
    if live.verify_key:
        event = f"event-{version}.log"
        run_tool(defender, "logs", event, lambda: sealed_log_findings(
            live.event_lines, event, live.verify_key, live.syslog_lines, syslog))
    capture = live.survey_pcap or live.pcap  # the survey's hundreds of nonces, else the victim's few
    run_tool(defender, "fingerprint", capture.name, lambda: fingerprint_findings(capture))


def _unlock_story(
    scenario: Scenario, live: LivePhase, attack: AttackOutcome | None, vpn_backdoor: bool,
    say: Callable[[str, str], None], problems: list[str],
) -> list[UnlockRecord]:
    """Who unlocked whom (gateway draw numbers); check the scenario's stale-key connection."""
    report = attack.report if attack is not None else {}
    observed = attack.observed if attack is not None else []
    unlocks = unlock_records(report, live.sessions, live.taken, observed)
    version = live.firmware_version
    if attack is not None and attack.decrypted:
        for u in unlocks:
            say("attacker", u.text)
    stale = scenario.stale_key_session
    if stale is None:
        return unlocks
    late = next((u for u in unlocks if u.connection == stale + 1), None)
    if late is None or late.key_draw is None or late.nonce_draw is None:
        problems.append(f"{version}: connection {stale + 1}'s key and nonce are not in the gateway's draw log")
        return unlocks
    say("lab", f"gateway draw log: connection {late.connection}'s DH key is PRNG draw {late.key_draw}, "
               f"its nonce draw {late.nonce_draw}"
               + (" — the key predates the nonce (CCS16 Figure 2)" if late.key_draw < late.nonce_draw else ""))
    if late.key_draw >= late.nonce_draw:
        problems.append(f"{version}: connection {late.connection}'s key (draw {late.key_draw}) does not predate "
                        f"its nonce (draw {late.nonce_draw})")
    elif vpn_backdoor and (late.unlocked_by is None or late.unlocked_by == late.connection):
        problems.append(f"{version}: connection {late.connection} was not unlocked by an earlier connection's "
                        f"nonce ({late.text})")
    return unlocks


def _check_seals(problems: list[str], version: str, live: LivePhase, findings: list[Finding]) -> None:
    """Erased logon lines must be convicted by the seals; an untouched log must verify clean."""
    event = f"event-{version}.log"
    sealed = [f for f in findings if f.tool == "logs" and f.target == event]
    if not live.verify_key:
        return
    convicted = any(f.severity == "high" and "removed after sealing" in f.finding for f in sealed)
    if live.erased and not convicted:
        problems.append(f"{version}: the attacker erased log lines ({live.erased}) but verification "
                        "with the key did not report entries removed after sealing")
    if not live.erased and any(f.severity in ("high", "critical") for f in sealed):
        problems.append(f"{version}: nothing was erased, yet the sealed event log does not verify clean")


async def _phase(
    scenario: Scenario, version: str, image: Path, opts: DemoOptions, trapdoor: Trapdoor,
    narrator: Narrator, defender: DefenderRun, problems: list[str], epoch: float, seed: int,
) -> tuple[PhaseResult, LivePhase | None, AttackOutcome | None]:
    from kleptolab.device.profiles import LAB_MASTER_PASSWORD, profile_for

    profile = profile_for(version)
    phase_dir = opts.out / version
    say = narrator.say
    result = PhaseResult(version)
    narrator.stage(f"ScreenOS {version}: the victim's VPN in use")
    try:
        with bars(narrator.console) as tick:
            live = await run_live_phase(
                scenario, version, image, phase_dir, seed=seed, master_password=LAB_MASTER_PASSWORD,
                login_user=opts.login_user, say=say, survey_probes=opts.survey_probes, epoch=epoch,
                progress=tick,
            )
    except Exception as exc:  # the gateway and client are other areas' code: report, keep going
        message = str(exc) if isinstance(exc, PhaseError) else (
            f"{version}: the live phase failed: {type(exc).__name__}: {exc}")
        problems.append(message)
        say("lab", f"stage failed: {message}")
        result.reason = message
        return result, None, None
    for s in live.sessions:
        if not s.connected:
            problems.append(f"{version}: session {s.index + 1} (IKEv{s.version}) did not connect: {s.error}")
        elif not all(m.echoed for m in s.messages):
            problems.append(f"{version}: session {s.index + 1}: the protected service did not echo every message")
    result.backdoor_login = bool(live.login and live.login.accepted)
    result.log_erased = live.erased
    if live.login is not None and live.login.accepted:
        result.login_transcript = f"{opts.login_user}@ssg5-lab-> {live.login.command}\n{live.login.output}"
    _check(problems, f"{version}: master-password login", profile.admin_backdoor,
           result.backdoor_login, _login_reason(live))

    narrator.stage(f"ScreenOS {version}: the passive attacker (pcap + trapdoor only)")
    attack: AttackOutcome | None = None
    psk = scenario.psk if scenario.attacker_knows_psk else None
    try:
        with bars(narrator.console) as tick:
            attack = run_attack(live.pcap, trapdoor, phase_dir / "decrypt", live.sessions, psk=psk,
                                wordlist=() if scenario.attacker_knows_psk else WORDLIST,
                                workers=opts.workers, say=say, progress=tick)
    except Exception as exc:  # the decryptor is someone else's code: report, keep going
        message = f"{version}: the passive decryption crashed: {type(exc).__name__}: {exc}"
        problems.append(message)
        say("attacker", message)
    if attack is not None:
        result.vpn_decrypted = attack.decrypted
        result.keys, result.plaintext, result.recovery = attack.keys, attack.plaintext, attack.recovery
        result.draws = draw_records(live.draws, live.taken, attack.observed, attack.report)
        say("attacker", ("decrypted: " if attack.decrypted else "could not decrypt: ") + attack.reason)
        _check(problems, f"{version}: passive VPN decryption", profile.vpn_backdoor, attack.decrypted,
               attack.reason)
    result.unlocks = _unlock_story(scenario, live, attack, profile.vpn_backdoor, say, problems)
    vpn_reason = attack.reason if attack is not None else "the decryptor did not run"
    result.reason = f"VPN: {vpn_reason}. Admin login: {_login_reason(live)}."

    narrator.stage(f"ScreenOS {version}: the defender")
    before = len(defender.findings)
    _defend_phase(defender, live, image)
    for f in defender.findings[before:]:
        say("defender", f"{f.tool} [{f.severity}] {f.target}: {f.finding}")
        if f.tool == "fingerprint" and f.severity == "screenos-dualec" and not profile.vpn_backdoor:
            say("defender", "the fingerprint convicts ScreenOS 6.2/6.3's Dual EC PRNG (BN_bn2bin never writes "
                            "a leading zero), not the Q it uses: this release still runs Dual EC, so it is "
                            "flagged too — the scanner and the advisory tell the replaced Q from Juniper's")
    if result.backdoor_login and not any(
        f.tool == "logs" and "system" in f.finding for f in defender.findings[before:]
    ):
        problems.append(f"{version}: the log analyzer did not flag the 'system' login")
    _check_seals(problems, version, live, defender.findings[before:])
    return result, live, attack


async def _run(opts: DemoOptions, narrator: Narrator, seed: int) -> DemoOutcome:
    from kleptolab import __version__

    scenario = scenario_by_name(opts.scenario)
    opts.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    narrator.stage(f"kleptolab demo — scenario {scenario.name}")
    narrator.say("lab", scenario.summary)
    narrator.say("lab", f"seed {seed}: `kleptolab demo --seed {seed}` repeats this run")
    trapdoor = seeded_trapdoor(seed)
    td_dir = opts.out / "trapdoor"
    td_dir.mkdir(exist_ok=True)
    trapdoor.save(td_dir / "lab-trapdoor.json", public_path=td_dir / "lab-q.json")
    narrator.say("lab", f"lab Dual EC trapdoor: Qx = {trapdoor.q[0]:064x}"[:60] + "… (d kept by the attacker)")
    images = _build_images(scenario, trapdoor, opts.out / "firmware")
    for path in images.values():
        narrator.say("lab", f"built firmware {path.name} ({path.stat().st_size} bytes)")

    wordlist = opts.out / "attacker" / "wordlist.txt"
    words = _write_wordlist(scenario, wordlist)
    narrator.say("lab", f"the VPN's pre-shared key is {scenario.psk.decode()!r}; "
                        f"{wordlist.relative_to(opts.out)} lists it among {words - 1} decoys (IKEv1 PSK "
                        "keys depend on the PSK: `kleptolab decrypt --psk-wordlist`)")

    run = DemoRun(__version__, seed, scenario.name, f"{trapdoor.q[0]:064x}", PhaseResult(scenario.backdoored))
    defender = DefenderRun()
    timings: dict[str, Any] = {}
    run.backdoored, _, attack = await _phase(scenario, scenario.backdoored, images[scenario.backdoored], opts,
                                             trapdoor, narrator, defender, problems, LAB_EPOCH, seed)
    timings[scenario.backdoored] = attack.timings if attack is not None else {}
    if scenario.patched is not None:
        narrator.stage(f"upgrade {scenario.backdoored} → {scenario.patched}")
        run.patched, _, attack = await _phase(scenario, scenario.patched, images[scenario.patched], opts,
                                              trapdoor, narrator, defender, problems,
                                              LAB_EPOCH + PHASE_EPOCH_STEP, seed)
        timings[scenario.patched] = attack.timings if attack is not None else {}
        old, new = images[scenario.backdoored], images[scenario.patched]
        run_tool(defender, "diff", f"{old.name} → {new.name}", lambda: diff_findings(old, new))
        for f in defender.findings:
            if f.tool == "diff":
                narrator.say("defender", f"diff [{f.severity}] {f.finding}")
    problems.extend(p for p in defender.problems if p not in problems)
    run.findings = defender.findings
    run.timeline = narrator.timeline
    return DemoOutcome(run, opts.out, problems, timings={"phases": timings})


def _write(outcome: DemoOutcome) -> None:
    """run.json and report.html (reproducible for a seed), then timings.json (wall-clock figures)."""
    data: dict[str, Any] = outcome.run.to_json()
    data["problems"] = outcome.problems
    chains = [chain for report in sorted(outcome.out.glob("*/decrypt/report.json"))
              for chain in json.loads(report.read_text(encoding="utf-8")).get("ike_rekey_chains", [])]
    (outcome.out / "report.html").write_text(render_report(outcome.run, outcome.problems, chains),
                                             encoding="utf-8")
    files = [p.relative_to(outcome.out) for p in outcome.out.rglob("*") if p.is_file()]
    data["files"] = sorted({str(p) for p in files} | {"run.json", *VOLATILE_FILES})
    (outcome.out / "run.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (outcome.out / "timings.json").write_text(json.dumps(outcome.timings, indent=2) + "\n", encoding="utf-8")


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoOutcome:
    """Run the demo end to end (its own event loop); write ``run.json``, ``report.html``, ``timings.json``."""
    seed = fresh_seed() if opts.seed is None else opts.seed
    narrator = Narrator(console)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    outcome = asyncio.run(_run(opts, narrator, seed))
    outcome.seconds = time.perf_counter() - narrator.start
    outcome.timings = {"started_at": started, "seconds": round(outcome.seconds, 2),
                       "timeline_offsets_s": narrator.offsets, **outcome.timings}
    _write(outcome)
    return outcome

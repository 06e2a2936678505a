"""Forward-secure sealing: every tamper case of issue 14 is a high finding; the intruder model."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from kleptolab.defend.eventlog_format import parse_lines
from kleptolab.defend.logrules import Alert
from kleptolab.defend.logseal import cross_check, verify_events
from kleptolab.device.eventlog import EventLog, admin_logon, admin_password_ok, chain_next
from kleptolab.device.sealing import Sealer, VerifyKey, setup_keys

T0 = 1795000000.0
DEVICE = "0185122017000042"
INTERVAL = 10


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def sealed_log(seed: int = 1, steps: int = 30) -> tuple[EventLog, VerifyKey, Clock]:
    clock = Clock()
    sealer, key = setup_keys(
        random.Random(seed).randbytes, device_id=DEVICE, interval=INTERVAL, start=clock.t
    )
    log = EventLog(clock=clock, tz=UTC, sealer=sealer)
    log.emit(9, "System booted ScreenOS 6.3.0r20.")
    for i in range(steps):
        clock.t += 3
        log.emit(536, f"IKE 127.0.0.1 Phase 1: Completed Main Mode negotiations ({i})")
    return log, key, clock


def backdoor_log() -> tuple[list[str], VerifyKey, Clock]:
    """A 6.3.0r20 log ending in the master-password logon (00515 'system' + 00528), then quiet."""
    log, key, clock = sealed_log()
    clock.t += 2
    admin_logon(log, "system", "SSH", "127.0.0.1", 40522)
    admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
    clock.t += 4
    log.tick()
    return log.lines(), key, clock


def findings(lines: list[str], key: VerifyKey, now: datetime | None = None) -> list[Alert]:
    return verify_events(parse_lines(lines, "event.log").events, key, now=now, source="event.log")


def high(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.severity in ("high", "critical")]


def text_of(line: str) -> str:
    return line.split(" chain=")[0]


def rechain(lines: list[str]) -> list[str]:
    """What an intruder does to an unkeyed chain: recompute it (keeping the mac= field)."""
    out, previous = [], "0" * 64
    for line in lines:
        text = text_of(line)
        mac = line.rpartition(" mac=")[2] if " mac=" in line else None
        previous = chain_next(previous, text)
        out.append(f"{text} chain={previous}" + (f" mac={mac}" if mac else ""))
    return out


def collector_now(clock: Clock, later: float = 60) -> datetime:
    return datetime.fromtimestamp(clock.t + later, tz=UTC).replace(tzinfo=None)


def test_untouched_log_verifies_clean() -> None:
    lines, key, clock = backdoor_log()
    alerts = findings(lines, key, now=collector_now(clock, 0))
    assert high(alerts) == []
    assert [a.rule for a in alerts if a.severity == "medium"] == []


def test_deleting_the_backdoor_pair_is_removed_after_sealing() -> None:
    lines, key, _ = backdoor_log()
    pair = [i for i, line in enumerate(lines) if " 00515 " in line or " 00528 " in line]
    assert len(pair) == 2 and lines[pair[1] + 1].split()[2] == "fss"  # sealed at once after 00528
    kept = [line for i, line in enumerate(lines) if i not in pair]
    alerts = high(findings(kept, key))
    assert [a.rule for a in alerts] == ["seal-deleted"]
    assert "removed after sealing (epoch" in alerts[0].message and "entries" in alerts[0].message


def test_deleting_the_last_lines_with_their_seal_is_a_cut_tail() -> None:
    lines, key, clock = backdoor_log()
    first = next(i for i, line in enumerate(lines) if " 00515 " in line)
    alerts = high(findings(lines[:first], key, now=collector_now(clock)))
    assert "seal-truncated" in {a.rule for a in alerts}


def test_deleting_the_last_entries_of_a_sealed_epoch() -> None:
    lines, key, _ = backdoor_log()
    seal = max(i for i, line in enumerate(lines[:-3]) if line.split()[2] == "fss")
    kept = lines[: seal - 1] + lines[seal:]  # the epoch's last entry, its seal kept
    assert [a.rule for a in high(findings(kept, key))] == ["seal-deleted"]


def test_stripping_chain_and_mac_from_every_line() -> None:
    lines, key, clock = backdoor_log()
    stripped = [text_of(line) for line in lines]
    rules = {a.rule for a in high(findings(stripped, key, now=collector_now(clock)))}
    assert "seal-stripped" in rules


def test_edit_then_recompute_the_chain() -> None:
    lines, key, _ = backdoor_log()
    k = next(i for i, line in enumerate(lines) if " 00515 " in line)
    edited = list(lines)
    edited[k] = edited[k].replace("Admin user system", "Admin user netscreen")
    rules = {a.rule for a in high(findings(rechain(edited), key))}
    assert "seal-mac" in rules  # (the genuine entry also counts as missing: seal-deleted)


def test_delete_then_recompute_the_chain() -> None:
    lines, key, _ = backdoor_log()
    k = next(i for i, line in enumerate(lines) if " 00515 " in line)
    rules = [a.rule for a in high(findings(rechain(lines[:k] + lines[k + 1 :]), key))]
    assert rules == ["seal-deleted"]


def test_delete_the_first_line() -> None:
    lines, key, _ = backdoor_log()
    alerts = high(findings(lines[1:], key))
    assert [a.rule for a in alerts] == ["seal-deleted"] and "entry 1 " in alerts[0].message


def test_edit_the_last_line_and_strip_its_chain() -> None:
    lines, key, clock = backdoor_log()
    edited = [*lines[:-1], text_of(lines[-1]) + " (edited)"]
    assert high(findings(edited, key, now=collector_now(clock, 0)))
    k = next(i for i, line in enumerate(lines) if " 00528 " in line)
    edited = [*lines[:k], text_of(lines[k]).replace("netscreen", "admin"), *lines[k + 1 :]]
    assert {"seal-stripped"} <= {a.rule for a in high(findings(edited, key))}


def test_reorder_insert_and_foreign_entries() -> None:
    lines, key, _ = backdoor_log()
    swapped = list(lines)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert "seal-order" in {a.rule for a in high(findings(swapped, key))}
    foreign_log, _, _ = sealed_log(seed=99)
    inserted = [*lines[:5], foreign_log.lines()[5], *lines[5:]]
    assert "seal-mac" in {a.rule for a in high(findings(inserted, key))}
    wrong_key = VerifyKey(bytes(32), INTERVAL, DEVICE)
    assert "seal-mac" in {a.rule for a in high(findings(lines, wrong_key))}
    other_device = VerifyKey(key.seed, INTERVAL, "0000000000000001")
    assert high(findings(lines, other_device))


def test_silence_is_sealed_on_a_timer() -> None:
    log, key, clock = sealed_log(steps=1)
    clock.t += 10 * INTERVAL
    log.tick()
    seals = [line for line in log.lines() if line.split()[2] == "fss"]
    assert len(seals) >= 10
    assert high(findings(log.lines(), key, now=collector_now(clock, 0))) == []
    gap = [line for line in log.lines() if line not in seals[3:6]]
    assert {"seal-gap"} <= {a.rule for a in high(findings(gap, key))}


def test_the_device_keeps_only_the_current_key() -> None:
    log, key, _ = sealed_log()
    assert log.sealer is not None and log.sealer.epoch > 3
    current = log.sealer.current_key()
    k = key.k0()
    from kleptolab.device.sealing import evolve

    keys = [k]
    for _ in range(log.sealer.epoch):
        keys.append(evolve(keys[-1]))
    assert current == keys[-1] and current not in keys[:-1]
    assert VerifyKey.parse(key.text) == key


# -- the intruder who takes the device at time t --------------------------------------------


def _steps(draw: st.DrawFn) -> list[tuple[float, str]]:
    return draw(
        st.lists(
            st.tuples(st.floats(0.0, 7.0), st.sampled_from(["event", "logon", "seal"])),
            min_size=8,
            max_size=40,
        )
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_intruder_after_t_cannot_touch_what_was_sealed(data: st.DataObject) -> None:
    clock = Clock()
    sealer, key = setup_keys(
        random.Random(7).randbytes, device_id=DEVICE, interval=INTERVAL, start=clock.t
    )
    log = EventLog(clock=clock, tz=UTC, sealer=sealer, rate_limit=None)
    log.emit(9, "System booted")
    for k, (dt, what) in enumerate(_steps(data.draw)):
        clock.t += dt
        if what == "logon":
            admin_logon(log, "system", "SSH", "127.0.0.1", 40000 + k)
            admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
        elif what == "seal":
            log.seal()
        else:
            log.emit(536, f"event {k}")
    log.tick()
    # time t: the intruder takes the device, reads its current key and state
    intruder = copy.deepcopy(log, {id(clock): clock})  # same wall clock
    stolen: Sealer = intruder.sealer  # type: ignore[assignment]
    assert stolen.current_key() == log.sealer.current_key()  # type: ignore[union-attr]
    lines = intruder.lines()
    sealed_upto = max((i for i, line in enumerate(lines) if line.split()[2] == "fss"), default=-1)
    sealed = list(range(sealed_upto + 1))
    # untouched, plus lies appended after t: verifies (the model allows lies after t)
    for k in range(data.draw(st.integers(0, 5))):
        clock.t += 4
        intruder.emit(536, f"all quiet {k}")
    # the device (now the intruder's) keeps running past the next timer seal, and the
    # collector verifies then: detection may lag by one interval, as in any FSS scheme
    clock.t += INTERVAL + 2
    intruder.tick()
    now = collector_now(clock, 0)
    assert high(findings(intruder.lines(), key, now=now)) == []
    if not sealed:
        return
    # anything sealed before t: delete some, edit one, or swap two -> a high finding
    kind = data.draw(st.sampled_from(["delete", "edit", "swap", "truncate"]))
    event(f"tamper: {kind}")
    tampered = intruder.lines()
    if kind == "delete":
        chosen = set(data.draw(st.lists(st.sampled_from(sealed), min_size=1, max_size=5)))
        tampered = [line for i, line in enumerate(tampered) if i not in chosen]
    elif kind == "edit":
        i = data.draw(st.sampled_from(sealed))
        line = tampered[i]
        tampered[i] = (
            line.replace(line[20:27], line[20:27].upper(), 1)
            if line[20:27].upper() != line[20:27]
            else line.replace(" ", "  ", 1)
        )
        tampered = rechain(tampered)
    elif kind == "swap" and len(sealed) > 1:
        i = data.draw(st.sampled_from(sealed[:-1]))
        if tampered[i] == tampered[i + 1]:
            return
        tampered[i], tampered[i + 1] = tampered[i + 1], tampered[i]
    else:
        cut = data.draw(st.sampled_from(sealed))
        tampered = tampered[:cut]
    assert high(findings(tampered, key, now=now)), kind


def test_cross_check_finds_entries_erased_on_the_device() -> None:
    from kleptolab.device.syslog_send import SyslogFormat, SyslogSender

    clock = Clock()
    sealer, key = setup_keys(
        random.Random(3).randbytes, device_id=DEVICE, interval=INTERVAL, start=clock.t
    )
    log = EventLog(clock=clock, tz=UTC, sealer=sealer)
    sender = SyslogSender(("127.0.0.1", 9), fmt=SyslogFormat.BSD, device_id=DEVICE)
    remote: list[str] = []
    log.add_sink(lambda e: remote.append(sender.format(e).decode()))
    for i in range(5):
        clock.t += 4
        log.emit(536, f"IKE event {i}")
    admin_logon(log, "system", "SSH", "127.0.0.1", 40522)
    admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
    sender.close()
    assert high(findings(remote, key)) == []  # the collector's copy verifies with the same key
    log.clear([515, 528])
    device = parse_lines(log.lines(), "event.log").events
    alerts = cross_check(device, parse_lines(remote, "syslog.log").events)
    assert [(a.rule, a.severity) for a in alerts] == [("copy-mismatch", "high")]
    assert len(alerts[0].evidence) == 2


def test_cli_verify_key(tmp_path: Path) -> None:
    lines, key, clock = backdoor_log()
    clean = tmp_path / "event.log"
    clean.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    trimmed = tmp_path / "trimmed.log"
    trimmed.write_text(
        "".join(line + "\n" for line in lines if " 00515 " not in line and " 00528 " not in line),
        encoding="utf-8",
    )
    now = f"{collector_now(clock, 0):%Y-%m-%d %H:%M:%S}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kleptolab", "logs", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    # the clean log still has the critical JSA10713 pair: exit 1, but no seal finding
    ok = run(str(clean), "--verify-key", key.text, "--now", now, "--format", "json")
    assert ok.returncode == 1 and "seal-" not in ok.stdout.replace("seal-open", "")
    bad = run(str(trimmed), "--verify-key", key.text, "--format", "json")
    assert bad.returncode == 1 and "removed after sealing (epoch" in bad.stdout
    wrong = run(str(clean), "--verify-key", "nothex/10/x")
    assert wrong.returncode == 2 and wrong.stderr.strip().startswith(
        "kleptolab logs: error: --verify-key"
    )
    assert len(wrong.stderr.strip().splitlines()) == 1
    when = run(str(clean), "--verify-key", key.text, "--now", "yesterday")
    assert when.returncode == 2 and "--now" in when.stderr

"""CLI commands: ``kleptolab supplychain init|build`` and ``kleptolab audit``.

Exit codes: 0 clean, 1 findings (``audit``), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kleptolab import ui

supplychain_app = typer.Typer(
    help="The supply-chain lab: a ScreenOS source repository, its "
    "review records and shipped images.",
    no_args_is_help=True,
)
AUDIT_FORMATS = ("text", "json", "sarif")


def _lab_q(trapdoor: Path | None) -> tuple[tuple[int, int], str]:
    from kleptolab.drbg.trapdoor import generate_trapdoor, load_public_q

    if trapdoor is None:
        return generate_trapdoor().q, "a fresh lab trapdoor (secret not kept)"
    ui.check_input_file(trapdoor, "trapdoor")
    curve, q = load_public_q(trapdoor)
    if curve.name != "P-256":
        ui.fail(f"{trapdoor}: the firmware needs a P-256 Q, this one is on {curve.name}")
    return q, str(trapdoor)


@supplychain_app.command("init")
def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the new git repository (absent or empty).")
    ],
    images: Annotated[
        Path | None,
        typer.Option("--images", help="Folder for the shipped images (default: DIR-images)."),
    ] = None,
    trapdoor: Annotated[
        Path | None,
        typer.Option(
            "--trapdoor",
            help="Lab trapdoor or public Q JSON (kleptolab keygen); default: a fresh one.",
        ),
    ] = None,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help="insider (the public timeline), build-server, rewrite or clean."
        ),
    ] = "insider",
) -> None:
    """Create the lab ScreenOS source repository, its signed reviews and its shipped images."""
    from kleptolab.supplychain.gitrepo import git_available
    from kleptolab.supplychain.make import create_lab
    from kleptolab.supplychain.timeline import SCENARIOS

    if scenario not in SCENARIOS:
        ui.fail(f"unknown scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
    if not git_available():
        ui.fail("git is not installed (the supply-chain lab needs the git binary)")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        ui.fail(f"{directory} exists and is not an empty folder")
    target = images if images is not None else directory.with_name(directory.name + "-images")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        ui.fail(f"images folder {target} exists and is not empty")
    q, source = _lab_q(trapdoor)
    ui.check_output_dir(directory, "repository folder")
    ui.check_output_dir(target, "images folder")
    lab = create_lab(directory, target, q, scenario)
    ui.console.print(
        f"created {ui.safe(directory)} ({scenario}): {len(lab.tags)} release tags, "
        f"shipped images in {ui.safe(target)}; lab Q from {ui.safe(source)}"
    )
    if lab.root is not None:
        ui.console.print(
            f"review policy root key: {lab.root.keyid} (pin it: kleptolab audit "
            f"--root-key {lab.root.keyid[:16]})"
        )


@supplychain_app.command("build")
def build(
    repo: Annotated[Path, typer.Argument(help="The lab source repository.")],
    ref: Annotated[str, typer.Argument(help="Release tag (or any commit).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file to write.")],
) -> None:
    """Build the firmware image of the tree at REF (reproducible: same tree, same bytes)."""
    from kleptolab.supplychain.gitrepo import Git
    from kleptolab.supplychain.source import build_from_tree

    ui.check_output_file(output)
    git = Git(repo)
    if not repo.is_dir() or not git.is_repository():
        ui.fail(f"{repo} is not a git repository")
    image = build_from_tree(git.files(git.rev(ref)))
    with ui.atomic_write(output, binary=True) as fh:
        fh.write(image)
    ui.console.print(f"wrote {ui.safe(output)}: {len(image)} bytes from {ui.safe(ref)}")


def audit(
    repo: Annotated[Path, typer.Argument(help="The source repository to audit.")],
    images: Annotated[
        Path, typer.Option("--images", help="Folder of shipped images, TAG.bin each.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="text, json or sarif (stdout).")
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write audit.txt, audit.json, audit.sarif and verification.json here.",
        ),
    ] = None,
    root_key: Annotated[
        str | None,
        typer.Option(
            "--root-key",
            help="Pin the review policy's root key (key id or prefix of 16+ hex digits).",
        ),
    ] = None,
) -> None:
    """Verify review policy, signatures and reproducible builds; attribute every finding."""
    import json

    from kleptolab.supplychain.audit import run_audit
    from kleptolab.supplychain.report import audit_json, audit_sarif, audit_text, dumps

    if fmt not in AUDIT_FORMATS:
        ui.fail(f"unknown format {fmt!r}: expected one of {', '.join(AUDIT_FORMATS)}")
    if not repo.is_dir():
        ui.fail(f"repository {repo}: no such folder")
    if not images.is_dir():
        ui.fail(f"images {images}: no such folder")
    if out is not None:
        ui.check_output_dir(out)
    pinned = _expand_root(repo, root_key)
    with ui.progress() as bar:
        bar.add_task("auditing history, signatures and rebuilds", total=None)
        result = run_audit(repo, images, pinned)
    command = "kleptolab audit " + " ".join(sys.argv[2:])
    text = audit_text(result)
    docs = {
        "text": text,
        "json": dumps(audit_json(result)),
        "sarif": dumps(audit_sarif(result, command)),
    }
    if out is not None:
        ui.write_files_atomically(
            {
                out / "audit.txt": text.encode(),
                out / "audit.json": docs["json"].encode(),
                out / "audit.sarif": docs["sarif"].encode(),
                out / "verification.json": (
                    json.dumps(audit_json(result)["verification"], indent=2) + "\n"
                ).encode(),
            }
        )
        ui.err_console.print(
            f"wrote {ui.safe(out)}/audit.txt, audit.json, audit.sarif, verification.json"
        )
    sys.stdout.write(docs[fmt])
    ui.err_console.print(
        f"audit: {len(result.findings)} findings, {len(result.reviews)} commits, "
        f"{len(result.releases)} releases in {result.seconds:.2f} s"
    )
    if not result.clean:
        raise typer.Exit(ui.EXIT_FINDINGS)


def _expand_root(repo: Path, root_key: str | None) -> str | None:
    """A pinned root key id; a prefix (>= 16 hex digits) is matched against the policy's key."""
    if root_key is None:
        return None
    key = root_key.strip().lower()
    if len(key) < 16 or any(c not in "0123456789abcdef" for c in key):
        ui.fail("--root-key must be at least 16 hex digits of the root key id")
    import json

    from kleptolab.supplychain.attest import key_id
    from kleptolab.supplychain.gitrepo import Git
    from kleptolab.supplychain.policy import POLICY_REF

    raw = Git(repo).read_ref_blob(POLICY_REF)
    try:
        public = json.loads(raw or b"{}").get("root_public", "")
        full = key_id(public) if isinstance(public, str) and len(public) == 64 else ""
    except ValueError:
        full = ""
    return full if full.startswith(key) else key


def register(app: typer.Typer) -> None:
    """Add ``supplychain`` and ``audit`` to ``app``."""
    app.add_typer(supplychain_app, name="supplychain")
    app.command("audit", epilog=ui.EXIT_CODES_HELP)(audit)

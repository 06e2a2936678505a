"""A small typed wrapper over the ``git`` binary with a fixed, user-config-free environment.

Every call runs ``git`` with ``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_CONFIG_NOSYSTEM=1``,
a fixed locale and time zone, so the same inputs give the same commit ids on
any machine.  Author and committer identities and dates are always explicit.
Errors become ``ValueError`` with git's own message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Commit", "Git", "Identity", "git_available"]


@dataclass(frozen=True)
class Identity:
    """A git identity and the date (``YYYY-MM-DDTHH:MM:SS±HHMM``) it acts at."""

    name: str
    email: str
    date: str


@dataclass(frozen=True)
class Commit:
    """What the audit reads of one commit."""

    id: str
    tree: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    author_date: str
    committer: str
    committer_date: str
    subject: str


def git_available() -> bool:
    """True when a ``git`` binary is on PATH."""
    return shutil.which("git") is not None


_BASE_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    "TZ": "UTC",
    "HOME": os.devnull,
}
_SEP = "\x1f"


class Git:
    """``git`` run in one repository (work tree ``path``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        identity: tuple[Identity, Identity] | None = None,
    ) -> str:
        """Run ``git ARGS`` and return stdout (text); ``ValueError`` on a non-zero exit."""
        return self.run_bytes(*args, stdin=stdin, identity=identity).decode("utf-8", "replace")

    def run_bytes(
        self,
        *args: str,
        stdin: bytes | None = None,
        identity: tuple[Identity, Identity] | None = None,
    ) -> bytes:
        """Run ``git ARGS`` and return stdout (bytes); ``ValueError`` on a non-zero exit."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_BASE_ENV}
        if identity is not None:
            author, committer = identity
            env.update(
                {
                    "GIT_AUTHOR_NAME": author.name,
                    "GIT_AUTHOR_EMAIL": author.email,
                    "GIT_AUTHOR_DATE": author.date,
                    "GIT_COMMITTER_NAME": committer.name,
                    "GIT_COMMITTER_EMAIL": committer.email,
                    "GIT_COMMITTER_DATE": committer.date,
                }
            )
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), *args],
                input=stdin,
                capture_output=True,
                env=env,
                check=False,
                timeout=120,
            )
        except FileNotFoundError:
            raise ValueError(
                "git is not installed (the supply-chain lab needs the git binary)"
            ) from None
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ValueError(
                f"git {args[0]} failed in {self.path}: "
                f"{message[-1] if message else 'exit ' + str(proc.returncode)}"
            )
        return proc.stdout

    # -- reading -----------------------------------------------------------------
    def is_repository(self) -> bool:
        """True when ``path`` is the top of a git work tree or a bare repository."""
        try:
            return self.run("rev-parse", "--git-dir").strip() != ""
        except ValueError:
            return False

    def rev(self, ref: str) -> str:
        """The commit id ``ref`` names (``ValueError`` if none)."""
        return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()

    def commits(self, *refs: str) -> list[Commit]:
        """Every commit reachable from ``refs``, oldest first (topological, then date order)."""
        fmt = _SEP.join(("%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%cI", "%s"))
        out = self.run("log", "--topo-order", "--reverse", f"--format={fmt}", *refs, "--")
        result = []
        for line in out.splitlines():
            h, t, p, an, ae, ad, cn, cd, s = line.split(_SEP)
            result.append(Commit(h, t, tuple(p.split()), an, ae, ad, cn, cd, s))
        return result

    def commit(self, ref: str) -> Commit:
        """One commit."""
        fmt = _SEP.join(("%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%cI", "%s"))
        h, t, p, an, ae, ad, cn, cd, s = (
            self.run("show", "-s", f"--format={fmt}", ref).strip().split(_SEP)
        )
        return Commit(h, t, tuple(p.split()), an, ae, ad, cn, cd, s)

    def tags(self) -> dict[str, str]:
        """Tag name -> commit id."""
        out = self.run(
            "for-each-ref", "--format=%(refname:strip=2) %(*objectname) %(objectname)", "refs/tags"
        )
        tags = {}
        for line in out.splitlines():
            parts = line.split()
            tags[parts[0]] = parts[1] if len(parts) == 3 else parts[-1]
        return tags

    def changed_paths(self, commit: Commit) -> list[str]:
        """Paths a commit changes against its first parent (all paths for a root commit)."""
        if commit.parents:
            out = self.run(
                "diff-tree", "--no-commit-id", "--name-only", "-r", commit.parents[0], commit.id
            )
        else:
            out = self.run("ls-tree", "-r", "--name-only", commit.id)
        return [line for line in out.splitlines() if line]

    def files(self, ref: str) -> dict[str, bytes]:
        """Every file of the tree at ``ref`` (the lab trees are small)."""
        names = [n for n in self.run("ls-tree", "-r", "--name-only", ref).splitlines() if n]
        return {name: self.run_bytes("show", f"{ref}:{name}") for name in names}

    def blame_line(self, ref: str, path: str, line: int) -> str:
        """The commit id that last changed ``path:line`` as of ``ref`` (``git blame``)."""
        out = self.run("blame", "--porcelain", "-L", f"{line},{line}", ref, "--", path)
        return out.split(" ", 1)[0]

    def notes(self, notes_ref: str) -> dict[str, bytes]:
        """Commit id -> note text under ``notes_ref`` (empty when the ref is absent)."""
        try:
            listing = self.run("notes", f"--ref={notes_ref}", "list")
        except ValueError:
            return {}
        out = {}
        for line in listing.splitlines():
            blob, target = line.split()
            out[target] = self.run_bytes("cat-file", "blob", blob)
        return out

    def read_ref_blob(self, ref: str) -> bytes | None:
        """The blob a ref points at, or ``None`` when the ref is absent."""
        try:
            return self.run_bytes("cat-file", "blob", ref)
        except ValueError:
            return None

    # -- writing -----------------------------------------------------------------
    def write_tree_files(self, files: dict[str, str | None]) -> None:
        """Write (text) or delete (``None``) files in the work tree."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                if target.exists():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit_all(self, message: str, author: Identity, committer: Identity) -> str:
        """Stage everything and commit; return the new commit id."""
        self.run("add", "-A")
        self.run("commit", "-q", "--allow-empty", "-m", message, identity=(author, committer))
        return self.rev("HEAD")

    def tag(self, name: str, commit: str, message: str, tagger: Identity) -> None:
        """An annotated tag (tagger and date fixed)."""
        self.run("tag", "-a", "-m", message, name, commit, identity=(tagger, tagger))

    def add_note(self, notes_ref: str, commit: str, text: str, who: Identity) -> None:
        """Attach (or replace) the note of ``commit`` under ``notes_ref``."""
        self.run(
            "notes",
            f"--ref={notes_ref}",
            "add",
            "-f",
            "-F",
            "-",
            commit,
            stdin=text.encode("utf-8"),
            identity=(who, who),
        )

    def write_ref_blob(self, ref: str, data: bytes) -> None:
        """Store ``data`` as a blob and point ``ref`` at it."""
        blob = self.run("hash-object", "-w", "--stdin", stdin=data).strip()
        self.run("update-ref", ref, blob)

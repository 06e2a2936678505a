"""Reproducible builds from the lab source tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.device.firmware import build_image, parse_image
from kleptolab.device.profiles import LAB_MASTER_PASSWORD, profile_for
from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.make import LabRepo, create_lab
from kleptolab.supplychain.source import (
    AUTH_PATH,
    PARAMS_PATH,
    build_from_tree,
    locate,
    read_state,
    render_auth,
)


def test_every_release_tag_rebuilds_byte_identical(labs: dict[str, LabRepo]) -> None:
    for scenario in ("insider", "clean", "rewrite"):
        lab = labs[scenario]
        git = Git(lab.path)
        tags = git.tags()
        assert len(tags) == 17
        for tag, commit in tags.items():
            assert build_from_tree(git.files(commit)) == lab.shipped[tag].read_bytes(), tag


def test_the_public_timeline_matches_firmware_build(
    labs: dict[str, LabRepo], trapdoor: Trapdoor
) -> None:
    """The insider history's tag X builds what ``kleptolab firmware build --profile X`` builds."""
    lab = labs["insider"]
    git = Git(lab.path)
    for tag, commit in git.tags().items():
        profile = profile_for(tag)
        expected = build_image(
            profile,
            trapdoor_q=trapdoor.q,
            master_password=LAB_MASTER_PASSWORD if profile.admin_backdoor else None,
        )
        built = build_from_tree(git.files(commit))
        if tag == "6.3.0r22":  # Dual EC removed in the tree; the version table still has it
            assert parse_image(built).q_x is None
            continue
        assert built == expected, tag


def test_same_tree_same_bytes_and_same_commit_ids(
    tmp_path: Path, trapdoor: Trapdoor, labs: dict[str, LabRepo]
) -> None:
    again = create_lab(tmp_path / "again", tmp_path / "img", trapdoor.q, "insider")
    first = labs["insider"]
    assert again.tags == first.tags, "fixed identities, dates and git environment"
    for tag in first.tags:
        assert again.shipped[tag].read_bytes() == first.shipped[tag].read_bytes()


def test_the_tree_states_follow_the_timeline(labs: dict[str, LabRepo], trapdoor: Trapdoor) -> None:
    git = Git(labs["insider"].path)
    state = {tag: read_state(git.files(tag)) for tag in git.tags()}
    assert state["6.1.0r7"].qx is None
    assert state["6.2.0r14"].qx == state["6.3.0r21"].qx != trapdoor.q[0]
    assert state["6.2.0r15"].qx == state["6.3.0r12"].qx == trapdoor.q[0]
    assert state["6.3.0r16"].password is None
    assert state["6.3.0r17"].password == LAB_MASTER_PASSWORD
    assert state["6.3.0r19b"].password is None and state["6.3.0r19b"].qx != trapdoor.q[0]
    assert state["6.3.0r22"].qx is None


def test_a_tree_whose_kat_does_not_match_q_is_refused(labs: dict[str, LabRepo]) -> None:
    files = Git(labs["insider"].path).files("6.3.0r12")
    text = files[PARAMS_PATH].decode()
    kat = text.split('DUALEC_KAT "')[1].split('"')[0]
    files[PARAMS_PATH] = text.replace(kat, "00" * (len(kat) // 2)).encode()
    with pytest.raises(ValueError, match="KAT does not match"):
        build_from_tree(files)


@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=64)
)
def test_password_round_trips_through_the_c_source(password: str) -> None:
    files = {"VERSION": b"6.3.0r17\n", AUTH_PATH: render_auth(password).encode()}
    assert read_state(files).password == password
    assert locate(files, password) is not None


def test_bisect_finds_the_commit_that_introduced_a_finding(labs: dict[str, LabRepo]) -> None:
    from kleptolab.supplychain.attribution import _bisect
    from kleptolab.supplychain.releases import indicators

    git = Git(labs["insider"].path)
    replaced = next(
        i
        for i in indicators("r12", build_from_tree(git.files("6.3.0r12")))
        if i.kind == "replaced-q"
    )
    found = _bisect(git, "6.3.0r12", replaced)
    assert found is not None
    assert git.commit(found).subject == "prng: refresh Dual EC self-test vectors"
    assert _bisect(git, "6.3.0r11", replaced) is None

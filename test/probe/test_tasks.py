"""Probe tasks from a data directory: labels, age groups, held-out split by speaker or utterance."""
from __future__ import annotations

import pytest

from espnet_durep.probe.tasks import age_group, load_tasks


def data_dir(tmp_path, with_age=True):
    utts = {f"s{s}_{i}": f"s{s}" for s in range(10) for i in range(4)}
    (tmp_path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(utts.items())))
    (tmp_path / "spk2gender").write_text("".join(f"s{s} {'fm'[s % 2]}\n" for s in range(10)))
    if with_age:
        (tmp_path / "spk2age").write_text("".join(f"s{s} {6 if s < 5 else 30}\n" for s in range(10)))
    (tmp_path / "text").write_text("".join(f"{u} AB A\n" for u in sorted(utts)))
    return tmp_path, sorted(utts)


def test_tasks_labels_and_splits(tmp_path):
    d, utts = data_dir(tmp_path)
    tasks = {t.name: t for t in load_tasks(d, utts)}
    assert sorted(tasks) == ["age_group", "chars", "gender", "speaker"]
    spk = lambda u: u.split("_")[0]  # noqa: E731
    # speaker ID: every speaker in both parts; the others: held-out speakers only
    assert {spk(u) for u in tasks["speaker"].test_utts} == {spk(u) for u in tasks["speaker"].train_utts}
    for name in ("gender", "age_group", "chars"):
        test_spk = {spk(u) for u in tasks[name].test_utts}
        assert len(test_spk) == 2 and not test_spk & {spk(u) for u in tasks[name].train_utts}
    assert tasks["age_group"].classes == ["adult", "child"]
    assert tasks["chars"].classes == ["<blank>", " ", "A", "B"] and tasks["chars"].labels[utts[0]] == [2, 3, 1, 2]
    assert load_tasks(d, utts)[0].test_utts == tasks["speaker"].test_utts  # deterministic


def test_missing_files_and_unknown_tasks(tmp_path):
    d, utts = data_dir(tmp_path, with_age=False)
    assert "age_group" not in {t.name for t in load_tasks(d, utts)}
    with pytest.raises(ValueError, match="tasks \\['age_group'\\] not available"):
        load_tasks(d, utts, names=["age_group"])
    with pytest.raises(ValueError, match="no speaker for 1 utterances, e.g. nobody"):
        load_tasks(d, utts + ["nobody"])


def test_age_groups():
    assert [age_group(a) for a in ("6", "12", "13", "17", "18", "43")] == ["child"] * 2 + ["teen"] * 2 + ["adult"] * 2

"""make_results: sclite parsing (on real sclite output, cross-checked with jiwer),
metrics merging (hand-computed), RESULTS.md layout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jiwer
import pytest

from espnet_durep.bin.make_results import (DecodeResult, ScliteSummary, collect, merge_metrics, parse_sclite,
                                           render_report)

SCLITE = shutil.which("sclite") or ("/usr/lib/sctk/bin/sclite" if os.access("/usr/lib/sctk/bin/sclite", os.X_OK)
                                    else None)
needs_sclite = pytest.mark.skipif(SCLITE is None, reason="sclite (SCTK) not installed: apt-get install sctk")

REF = {"spk1-a": "THE CAT SAT ON THE MAT", "spk1-b": "HELLO WORLD", "spk2-c": "ONE TWO THREE"}
# one insertion, one substitution, one deletion: a unique minimal alignment, so the error
# types (not only the total) must agree between sclite and jiwer
HYP = {"spk1-a": "THE CAT SAT ON THE MAT TODAY", "spk1-b": "HELLO WORD", "spk2-c": "ONE THREE"}


def write_text(path: Path, table: dict) -> Path:
    path.write_text("".join(f"{k} {v}\n" for k, v in sorted(table.items())), encoding="utf-8")
    return path


def score(scripts_dir, tmp_path, unit, hyp=HYP):
    ref = write_text(tmp_path / "ref_text", REF)
    hyp_file = write_text(tmp_path / "hyp_text", hyp)
    utt2spk = write_text(tmp_path / "utt2spk", {u: u.split("-")[0] for u in REF})
    out = tmp_path / f"score_{unit}"
    done = subprocess.run(["bash", str(scripts_dir / "score_sclite.sh"), "--unit", unit, str(ref), str(hyp_file),
                           str(utt2spk), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


@needs_sclite
def test_word_scores_match_jiwer(scripts_dir, tmp_path):
    out = score(scripts_dir, tmp_path, "word")
    assert {p.name for p in out.iterdir()} >= {"ref.trn", "hyp.trn", "result.txt", "hyp.trn.sys", "hyp.trn.dtl"}
    assert (out / "hyp.trn").read_text().splitlines()[0] == "THE CAT SAT ON THE MAT TODAY (spk1-spk1-a)"
    summary = parse_sclite(out / "result.txt")
    assert parse_sclite(out / "hyp.trn.sys") == summary
    refs, hyps = [REF[u] for u in sorted(REF)], [HYP[u] for u in sorted(REF)]
    m = jiwer.process_words(refs, hyps)
    words = sum(len(r.split()) for r in refs)
    assert (summary.snt, summary.wrd) == (3, words) == (3, 11)
    assert summary.sub == pytest.approx(100 * m.substitutions / words, abs=0.05)  # 1 (WORLD->WORD)
    assert summary.dele == pytest.approx(100 * m.deletions / words, abs=0.05)     # 1 (TWO)
    assert summary.ins == pytest.approx(100 * m.insertions / words, abs=0.05)     # 1 (TODAY)
    assert summary.err == pytest.approx(100 * m.wer, abs=0.05) == pytest.approx(27.3, abs=0.05)
    assert summary.corr == pytest.approx(100 * m.hits / words, abs=0.05)
    assert summary.s_err == pytest.approx(100.0)


@needs_sclite
def test_char_scores_match_jiwer_and_missing_hypotheses_count_as_deletions(scripts_dir, tmp_path):
    hyp = {k: v for k, v in HYP.items() if k != "spk2-c"}  # failed decode of spk2-c
    out = score(scripts_dir, tmp_path, "char", hyp)
    assert (out / "ref.trn").read_text().splitlines()[1] == "H E L L O <space> W O R L D (spk1-spk1-b)"
    summary = parse_sclite(out / "result.txt")
    refs = [REF[u].replace(" ", "_") for u in sorted(REF)]
    hyps = [hyp.get(u, "").replace(" ", "_") for u in sorted(REF)]
    m = jiwer.process_characters(refs, hyps)
    chars = sum(len(r) for r in refs)
    assert summary.wrd == chars
    assert summary.err == pytest.approx(100 * (m.substitutions + m.deletions + m.insertions) / chars, abs=0.05)


def test_sclite_missing_gives_install_hint(scripts_dir, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SCTK_DIR": str(tmp_path / "nowhere")}
    if shutil.which("sclite", path=env["PATH"]):
        pytest.skip("sclite is installed in /usr/bin")
    done = subprocess.run(["bash", str(scripts_dir / "score_sclite.sh"), "a", "b", "c", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "apt-get install sctk" in done.stderr


def test_parse_rejects_non_sclite_files(tmp_path):
    (tmp_path / "x.txt").write_text("nothing here\n")
    with pytest.raises(ValueError, match="no 'Sum/Avg' row"):
        parse_sclite(tmp_path / "x.txt")


def metrics(**kw):
    base = {"decode_mode": "streaming", "search": "attention_rescoring", "chunk_size_frames": 4, "chunk_ms": 160.0, "num_left_chunks": -1,
            "num_utts": 2, "audio_seconds": 10.0, "wall_seconds": 1.0, "rtf": 0.1, "num_threads": 1,
            "device": "cpu", "algorithmic_latency_ms": 190.0, "algorithmic_latency_avg_ms": 110.0,
            "first_token_latency_ms_mean": 100.0,
            "final_latency_ms_mean": 50.0, "emission_delay_ms": {"mean": 80.0, "p50": 70.0, "p90": 120.0, "count": 10},
            "num_failed_utts": 0}
    return {**base, **kw}


def test_merge_metrics_hand_computed():
    a = metrics()
    b = metrics(num_utts=4, audio_seconds=30.0, wall_seconds=5.0, num_failed_utts=1, first_token_latency_ms_mean=200.0,
                final_latency_ms_mean=None, emission_delay_ms={"mean": 40.0, "p50": 30.0, "p90": 60.0, "count": 30})
    m = merge_metrics([a, b], ["a.json", "b.json"])
    assert (m["num_utts"], m["audio_seconds"], m["wall_seconds"], m["num_failed_utts"]) == (6, 40.0, 6.0, 1)
    assert m["rtf"] == pytest.approx(6.0 / 40.0)
    assert m["first_token_latency_ms_mean"] == pytest.approx((100 * 2 + 200 * 3) / 5)
    assert m["final_latency_ms_mean"] == pytest.approx(50.0)  # only job a has it
    assert m["emission_delay_ms"] == pytest.approx({"mean": 50.0, "p50": 40.0, "p90": 75.0, "count": 40})
    assert m["chunk_ms"] == 160.0 and m["decode_mode"] == "streaming"


def test_merge_metrics_rejects_disagreeing_settings():
    with pytest.raises(ValueError, match="'chunk_size_frames' differs.*a.json, b.json"):
        merge_metrics([metrics(), metrics(chunk_size_frames=8)], ["a.json", "b.json"])
    with pytest.raises(ValueError, match="'search' differs"):
        merge_metrics([metrics(), metrics(search="joint")], ["a.json", "b.json"])
    with pytest.raises(ValueError, match="b.json: metrics lack num_utts"):
        merge_metrics([metrics(), {k: v for k, v in metrics().items() if k != "num_utts"}], ["a.json", "b.json"])


def result(model, mode, chunk_ms=None, left=-1, err=10.0, search="attention_rescoring"):
    m = metrics(decode_mode=mode, chunk_ms=chunk_ms, num_left_chunks=left, search=search)
    if mode == "full":
        m.update(chunk_size_frames=None, algorithmic_latency_ms=None, algorithmic_latency_avg_ms=None,
                 emission_delay_ms=None)
    return DecodeResult(model, "test", m, {"score_wer": ScliteSummary(12, 30, 90.0, 5.0, 5.0, 0.0, err, 25.0)})


def test_report_rows_ordered_with_models_side_by_side():
    rows = [result("student", "streaming", 320.0, 2), result("student", "full", search="joint"),
            result("student", "full"), result("teacher", "full", err=8.0),
            result("student", "streaming", 160.0, -1), result("student", "streaming", 160.0, 2)]
    text = render_report(rows, ["teacher", "student"], Path("exp"), ["- env line"])
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| model | mode | chunk (ms) | left chunks | search | Snt | Wrd | Corr | Sub | Del | Ins")
    cells = [[c.strip() for c in line.strip("|").split("|")][:5] for line in table[1:]]
    assert cells == [["teacher", "full", "-", "-", "attention_rescoring"],
                     ["student", "full", "-", "-", "attention_rescoring"], ["student", "full", "-", "-", "joint"],
                     ["student", "streaming", "160", "2", "attention_rescoring"],
                     ["student", "streaming", "160", "all", "attention_rescoring"],
                     ["student", "streaming", "320", "2", "attention_rescoring"]]
    assert "| teacher | full | - | - | attention_rescoring | 12 | 30 | 90.0 | 5.0 | 5.0 | 0.0 | 8.0 | 25.0 | 0.100 | - | - |" in text
    assert "| 0.100 | 190 | 80 / 70 / 120 |" in text
    assert "## test: WER (words)" in text and "CER" not in text.split("## test")[1]
    assert "- env line" in text


@needs_sclite
def test_collect_reads_decode_tree(scripts_dir, tmp_path):
    test_dir = tmp_path / "exp" / "student" / "decode_streaming_chunk4_left-1" / "test"
    test_dir.mkdir(parents=True)
    shutil.copytree(score(scripts_dir, tmp_path, "word"), test_dir / "score_wer")
    (test_dir / "metrics.json").write_text(json.dumps(metrics()))
    (rows,) = collect(tmp_path / "exp", ["student"])
    assert (rows.model, rows.test_set, rows.scores["score_wer"].wrd) == ("student", "test", 11)
    with pytest.raises(ValueError, match="no decoding results"):
        collect(tmp_path / "exp", ["teacher"])
    (test_dir / "metrics.json").write_text(json.dumps({"rtf": 0.1}))
    with pytest.raises(ValueError, match=r"left-1/test/metrics.json: no 'decode_mode'"):
        collect(tmp_path / "exp", ["student"])
    (test_dir / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"left-1/test/metrics.json: not valid JSON"):
        collect(tmp_path / "exp", ["student"])


TRAIN_LOG = """\
[host] 2026-12-01 10:00:00,000 (trainer:811) INFO: 1epoch:train:1-10batch: loss=90.1
[host] 2026-12-01 10:01:00,000 (trainer:394) INFO: 1epoch results: [train] loss_full=88.0, loss=88.0, gshare_asr=0.700, \
gshare_loss_kd_layer_full=0.300, time=1 minute and 0.5 seconds, total_count=210, [valid] loss=70.0, acc=0.3, \
cer_ctc_full=0.95, time=1.5 seconds, total_count=19
[host] 2026-12-01 10:02:00,000 (trainer:394) INFO: 2epoch results: [train] loss_full=60.0, loss=60.0, gshare_asr=0.600, \
gshare_loss_kd_layer_full=0.400, time=58.1 seconds, total_count=420, [valid] loss=50.0, acc=0.4, cer_ctc_full=0.61, \
time=1.4 seconds, total_count=38
"""


def test_learning_curve_and_stage_times_in_the_report(tmp_path):
    from espnet_durep.bin.make_results import learning_curve, stage_times

    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "train.log").write_text(TRAIN_LOG)
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "stage_times.tsv").write_text("7\t600\t2026-12-01T10:10:00\n7\t65\t2026-12-01T11:00:00\n"
                                                      "9\t1500\t2026-12-01T11:30:00\n")
    epochs = learning_curve(tmp_path / "student" / "train.log")
    assert [e["epoch"]["n"] for e in epochs] == ["1", "2"]
    assert epochs[1]["valid"]["cer_ctc_full"] == "0.61" and epochs[0]["train"]["gshare_asr"] == "0.700"
    assert stage_times(tmp_path / "log" / "stage_times.tsv") == {7: (65, "2026-12-01T11:00:00"),
                                                                9: (1500, "2026-12-01T11:30:00")}
    rows = [DecodeResult("student", "test", {"decode_mode": "full"}, {"score_wer": ScliteSummary(1, 2, 50, 50, 0, 0, 50, 100)})]
    text = render_report(rows, ["student"], tmp_path, ["- env"])
    assert "| 9 | student training | 25 min 00 s |" in text and "| 7 | teacher training | 1 min 05 s |" in text
    assert "| epoch | train loss | valid loss | valid acc | valid cer_ctc_full | train gshare_asr | " \
           "train gshare_loss_kd_layer_full | train time |" in text
    assert "| 2 | 60.0 | 50.0 | 0.4 | 0.61 | 0.600 | 0.400 | 58.1 seconds |" in text


def test_malformed_stage_times_name_the_line(tmp_path):
    from espnet_durep.bin.make_results import stage_times

    (tmp_path / "t.tsv").write_text("7\t600\t2026\nbad line\n")
    with pytest.raises(ValueError, match="t.tsv:2"):
        stage_times(tmp_path / "t.tsv")


# an epoch summary as train.log files written before the mode names were unified have it
OLD_FORMAT_LOG = """\
[host] 2026-11-01 10:01:00,000 (trainer:394) INFO: 1epoch results: [train] loss_full=88.0, loss_stream=91.0, \
loss=89.5, gshare_asr=0.700, gshare_loss_kd_layer_stream=0.300, gshare_loss_kd_rnnt_stream=0.1, time=1 minute, \
total_count=210, [valid] loss=70.0, acc=0.3, acc_full=0.31, acc_stream=0.29, cer_ctc_full=0.95, \
cer_ctc_stream=0.97, loss_kd_posterior_stream=4.5, time=1.5 seconds, total_count=19
"""


def test_old_train_logs_are_read_under_the_new_statistic_names(tmp_path):
    from espnet_durep.bin.make_results import learning_curve

    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "train.log").write_text(OLD_FORMAT_LOG)
    (epoch,) = learning_curve(tmp_path / "student" / "train.log")
    assert epoch["train"]["loss_streaming"] == "91.0" and epoch["train"]["loss_full"] == "88.0"
    assert epoch["train"]["gshare_loss_kd_layer_streaming"] == "0.300"
    assert epoch["train"]["gshare_loss_kd_rnnt_streaming"] == "0.1"
    assert (epoch["valid"]["acc_streaming"], epoch["valid"]["cer_ctc_streaming"]) == ("0.29", "0.97")
    assert epoch["valid"]["loss_kd_posterior_streaming"] == "4.5"
    assert not [k for part in ("train", "valid") for k in epoch[part] if k.endswith("_stream")]
    rows = [DecodeResult("student", "test", {"decode_mode": "full"}, {"score_wer": ScliteSummary(1, 2, 50, 50, 0, 0, 50, 100)})]
    text = render_report(rows, ["student"], tmp_path, ["- env"])
    assert "| epoch | train loss | valid loss | valid acc | valid acc_full | valid acc_streaming | valid cer_ctc_full | " \
           "valid cer_ctc_streaming | train gshare_asr | train gshare_loss_kd_layer_streaming | " \
           "train gshare_loss_kd_rnnt_streaming | train time |" in text
    assert "| 1 | 89.5 | 70.0 | 0.3 | 0.31 | 0.29 | 0.95 | 0.97 | 0.700 | 0.300 | 0.1 | 1 minute |" in text

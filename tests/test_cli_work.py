"""`reelforge generate | extend | loop | compose`: the real console script in new processes, on the free
offline preview provider, with every output probed from its file; then the exit codes a script
branches on (2 bad input, 3 failed, 6 needs confirmation) and `--estimate` (issue 14, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_utils import as_json, cli_env, one_error_line, reelforge

from reelforge.media.probe import probe

pytestmark = pytest.mark.slow
SMALL = ("--provider", "preview", "--duration", "1", "--resolution", "480p", "--json")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "home")


def _output(view: dict, kind: str) -> Path:
    assert view["kind"] == kind and view["status"] == "succeeded", view
    path = Path(view["output"]["path"])
    info = probe(path)
    assert info.codec == "h264" and info.frames > 0
    assert abs(info.duration_s - view["output"]["duration_s"]) < 0.05, (info, view["output"])
    return path


def test_extend_loop_compose_a_generated_clip(env, tmp_path: Path) -> None:
    piped = reelforge(env, "generate", "a paper boat", *SMALL, cwd=tmp_path)
    assert piped.stderr == "", "progress is for a terminal; a pipe gets the result only"
    made = as_json(piped)
    clip = _output(made, "generate")
    first = probe(clip).duration_s

    extended = reelforge(env, "extend", made["job_id"], "it drifts under a bridge", *SMALL, cwd=tmp_path)
    assert extended.returncode == 0, extended.stderr
    longer = _output(as_json(extended), "extend")
    assert probe(longer).duration_s > first + 0.5, "the extension added no second clip"

    # A file (not a job id), twice round: the loop command plays it as many times as asked.
    looped = reelforge(env, "loop", str(clip), "--strategy", "crossfade", "--crossfade", "0.2", "--repeat", "2",
                       "--json", cwd=tmp_path)
    assert looped.returncode == 0, looped.stderr
    loop_view = as_json(looped)
    loop_path = _output(loop_view, "loop")
    assert loop_view["output"]["extra"]["loop"]["strategy"] == "crossfade", loop_view["output"]["extra"]
    assert probe(loop_path).duration_s > first, "two plays of the loop are longer than the clip"

    timeline = {"clips": [{"job_id": made["job_id"], "transition": {"kind": "crossfade", "duration_s": 0.4}},
                          {"path": str(clip)}], "preset": "draft"}
    (tmp_path / "cut.json").write_text(json.dumps(timeline))
    composed = reelforge(env, "compose", "cut.json", "--json", cwd=tmp_path)
    assert composed.returncode == 0, composed.stderr
    view = as_json(composed)
    movie = _output(view, "compose")
    assert movie.name == "cut.mp4" and Path(view["output"]["otio_path"]).is_file()
    expected = 2 * first - 0.4  # the crossfade overlaps the two clips
    assert abs(probe(movie).duration_s - expected) < 0.1, (probe(movie).duration_s, expected)

    # Its .otio sidecar renders again from the file alone, to the same length.
    otio = tmp_path / "again.otio"
    otio.write_bytes(Path(view["output"]["otio_path"]).read_bytes())
    again = reelforge(env, "compose", str(otio), cwd=tmp_path)  # text output this time
    assert again.returncode == 0, again.stderr
    done = again.stdout.splitlines()[0]
    assert done.startswith("done ") and "again.mp4" in done, again.stdout
    path = Path(done.removeprefix("done ").split("  (")[0])
    assert probe(path).codec == "h264" and abs(probe(path).duration_s - probe(movie).duration_s) < 0.1

    listed = reelforge(env, "jobs", "--json", cwd=tmp_path)
    kinds = sorted(j["kind"] for j in as_json(listed))
    # One job per command, and the extension's own generation step: no strays, nothing run twice.
    assert kinds == ["compose", "compose", "extend", "generate", "generate", "loop"], kinds


def test_estimate_quotes_and_starts_nothing(env, tmp_path: Path) -> None:
    made = as_json(reelforge(env, "generate", "a kite", *SMALL, cwd=tmp_path))
    (tmp_path / "t.json").write_text(json.dumps(
        {"timeline": {"clips": [{"job_id": made["job_id"]},
                                {"generate": {"prompt": "a lake", "provider": "preview", "duration_s": 1}}]}}))
    quotes = {
        "extend": reelforge(env, "extend", made["job_id"], "--provider", "preview", "--estimate", "--json", cwd=tmp_path),
        "loop": reelforge(env, "loop", "--prompt", "a wave", "--provider", "preview", "--estimate", "--json",
                          cwd=tmp_path),
        "compose": reelforge(env, "compose", "t.json", "--estimate", "--json", cwd=tmp_path),
    }
    for kind, done in quotes.items():
        assert done.returncode == 0, done.stderr
        quote = as_json(done)
        assert quote["kind"] == kind and quote["usd"] == 0.0 and quote["needs_confirmation"] is False, quote
    assert as_json(quotes["extend"])["provider"] == "preview"
    piped = reelforge(env, "loop", made["job_id"], "--estimate", cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout.split("\t")[:3] == ["loop", "-", "0.00"], piped.stdout
    assert [j["job_id"] for j in as_json(reelforge(env, "jobs", "--json", cwd=tmp_path))] == [made["job_id"]]


@pytest.mark.parametrize(("argv", "says"), [
    (["loop"], "Give a CLIP"),
    (["loop", "job_0123456789abcdef", "--provider", "preview"], "--provider: only with --prompt"),
    (["extend", "job_0123456789abcdef"], "[job_not_found]"),
    (["extend", "missing.mp4"], "no file at 'missing.mp4'"),
    (["extend", "job_0123456789abcdef", "--duration", "500"], "--duration: must be ≤ 120 (got 500"),
    (["loop", "job_0123456789abcdef", "--repeat", "50"], "--repeat: must be ≤ 20 (got 50)"),
    (["compose", "cut.txt"], "expected a .json timeline or an .otio file"),
    (["compose", "broken.json"], "is not JSON"),
    (["compose", "two.json"], "timeline.clips[0]: give exactly one of job_id, path or generate"),
])
def test_bad_input_is_one_line_and_exit_2(env, tmp_path: Path, argv: list[str], says: str) -> None:
    (tmp_path / "broken.json").write_text("{clips: ")
    (tmp_path / "two.json").write_text(json.dumps({"clips": [{"path": "a.mp4", "job_id": "job_x"}]}))
    done = reelforge(env, *argv, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    assert says in one_error_line(done.stderr), done.stderr


def test_confirmation_then_yes_then_a_failed_job(tmp_path: Path) -> None:
    from emulators.minimax import API_KEY, MiniMaxEmulator

    with MiniMaxEmulator() as emu:
        env = cli_env(tmp_path / "home", MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url,
                      REELFORGE_ALLOW_PRIVATE_URLS="true", REELFORGE_CONFIRM_ABOVE_USD="0.1")
        asked = reelforge(env, "generate", "a fox in snow", "--provider", "minimax", "--json", cwd=tmp_path)
        assert asked.returncode == 6, (asked.returncode, asked.stderr)
        quote = as_json(asked)
        assert quote["needs_confirmation"] is True and quote["usd"] > 0.1 and quote["provider"] == "minimax", quote
        assert "--yes" in one_error_line(asked.stderr) and emu.count("create") == 0, "asked, yet sent"

        text = reelforge(env, "generate", "a fox in snow", "--provider", "minimax", cwd=tmp_path)
        assert text.returncode == 6 and text.stdout.startswith("generate\tminimax/"), text.stdout
        (tmp_path / "two.json").write_text(json.dumps([{"prompt": "a fox", "provider": "minimax"}] * 2))
        batch = reelforge(env, "batch", "two.json", "--json", cwd=tmp_path)  # one quote for the whole batch
        assert batch.returncode == 6 and as_json(batch)["usd"] == pytest.approx(2 * quote["usd"]), batch.stdout
        estimated = reelforge(env, "batch", "two.json", "--estimate", "--json", cwd=tmp_path)
        assert estimated.returncode == 0 and as_json(estimated)["needs_confirmation"] is False
        assert emu.count("create") == 0 and as_json(reelforge(env, "jobs", "--json", cwd=tmp_path)) == []

        done = reelforge(env, "generate", "a fox in snow", "--provider", "minimax", "--yes", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        _output(as_json(done), "generate")
        assert emu.count("create") == 1

        emu.fail_next = ("1027", "output video sensitive")
        failed = reelforge(env, "generate", "a fox at night", "--provider", "minimax", "-y", "--json", cwd=tmp_path)
        view = as_json(failed)
        assert failed.returncode == 3 and view["status"] == "failed" and view["error"]["code"], (failed, view)
        waited = reelforge(env, "jobs", "wait", view["job_id"], cwd=tmp_path)  # its outcome, whoever asks
        assert waited.returncode == 3 and waited.stdout.startswith(f"failed {view['job_id']}: ["), waited.stdout

        emu.inject("create", drop=True, process=True)  # the provider starts the job; its answer is lost
        lost = reelforge(env, "generate", "a fox at dawn", "--provider", "minimax", "-y", "--json", cwd=tmp_path)
        assert lost.returncode == 7 and as_json(lost)["status"] == "unknown", (lost.returncode, lost.stderr)


def test_help_lists_the_exit_codes(env, tmp_path: Path) -> None:
    for command in ("generate", "extend", "loop", "compose", "jobs", "batch", None):
        shown = reelforge(env, *([command] if command else []), "--help", cwd=tmp_path)
        assert shown.returncode == 0 and "exit codes:" in shown.stdout, shown.stdout
        assert "6  needs confirmation: rerun with --yes" in shown.stdout and "4  still running" in shown.stdout


def test_a_terminal_gets_a_progress_bar(env, tmp_path: Path) -> None:
    """Under a pseudo-terminal the same command draws Rich's bar (job id, stage, percent) on stderr."""
    import os
    import pty
    import subprocess

    from cli_utils import REELFORGE

    leader, follower = pty.openpty()
    proc = subprocess.Popen([REELFORGE, "generate", "a paper boat", "--provider", "preview", "--duration", "3",
                             "--resolution", "480p"], env={**env, "TERM": "xterm"}, cwd=tmp_path,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command has exited
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert "\x1b[" in text and "%" in text and "job_" in text, text[-500:]
    assert "done " in text


def test_paths_in_a_timeline_file_are_read_from_its_folder(env, tmp_path: Path) -> None:
    made = as_json(reelforge(env, "generate", "a paper boat", *SMALL, cwd=tmp_path))
    project = tmp_path / "project"
    (project / "media").mkdir(parents=True)
    Path(_output(made, "generate")).replace(project / "media" / "shot.mp4")
    (project / "cut.json").write_text(json.dumps({"clips": [{"path": "media/shot.mp4"}, {"path": "./media/shot.mp4"}],
                                                  "preset": "draft"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    composed = reelforge(env, "compose", str(project / "cut.json"), "--json", cwd=elsewhere)
    assert composed.returncode == 0, composed.stderr
    movie = _output(as_json(composed), "compose")
    assert abs(probe(movie).duration_s - 2 * probe(project / "media" / "shot.mp4").duration_s) < 0.1


def test_a_sidecar_renders_again_after_a_trim_at_the_clip_end(env, tmp_path: Path) -> None:
    made = as_json(reelforge(env, "generate", "a paper boat", *SMALL, cwd=tmp_path))
    loop = as_json(reelforge(env, "loop", made["job_id"], "--strategy", "crossfade", "--crossfade", "0.2",
                             "--repeat", "2", "--json", cwd=tmp_path))  # 38 frames at 24 fps: not whole at 30
    (tmp_path / "cut.json").write_text(json.dumps({"clips": [
        {"job_id": made["job_id"], "transition": {"kind": "crossfade", "duration_s": 0.4}},
        {"job_id": loop["job_id"]}], "preset": "draft"}))
    first = as_json(reelforge(env, "compose", "cut.json", "--json", cwd=tmp_path))
    otio = tmp_path / "again.otio"
    otio.write_bytes(Path(first["output"]["otio_path"]).read_bytes())
    again = reelforge(env, "compose", str(otio), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stdout

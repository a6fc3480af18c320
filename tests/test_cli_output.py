"""The command line: one `error: …` line and a non-zero exit for every mistake (no tracebacks), and
output that survives a pipe: full ids and paths, literal brackets, `--json` everywhere (issue 8,
item 7). The CLI runs in-process (stdout captured, so not a terminal) and once through a real pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.providers.registry import load_catalog
from reelforge.cli import main


@pytest.fixture
def home(settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELFORGE_HOME", str(settings.home))
    return settings.home


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_job_is_one_error_line(home, capsys) -> None:
    code, out, err = run(capsys, "jobs", "job_nope")
    line = one_error_line(err)
    assert code != 0 and out == "" and "job_nope" in line, line


@pytest.mark.parametrize(("flag", "value", "limit"), [("--duration", "999", "120"), ("--fps", "0", "1"),
                                                      ("--seed", "-1", "0"), ("--seed", str(2**40), "4294967295")])
@pytest.mark.parametrize("command", ["generate", "estimate"])
def test_out_of_range_values_are_one_error_line(home, capsys, command: str, flag: str, value: str, limit: str) -> None:
    code, out, err = run(capsys, command, "a paper boat", "--provider", "preview", flag, value)
    line = one_error_line(err)
    assert code == 2 and f"{flag}: must be" in line and limit in line and value in line, line
    assert "pydantic" not in line


def test_refused_request_is_one_error_line(home, capsys) -> None:
    code, _, err = run(capsys, "generate", "a paper boat", "--provider", "preview", "--aspect", "7:3")
    line = one_error_line(err)
    assert code == 2 and "[unsupported_parameter]" in line and "aspect_ratio" in line, line


@pytest.mark.parametrize("argv", [["jobs", "--status", "finished"], ["models", "--provider", "runwayy"]])
def test_unknown_filters_are_errors(home, capsys, argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    line = one_error_line(err)
    assert code == 2 and out == "" and "Known" in line, line


def test_piped_models_list_full_ids_and_literal_brackets(home, capsys) -> None:
    code, out, err = run(capsys, "models")
    assert code == 0 and err == ""
    assert "…" not in out and "┃" not in out
    first_column = [line.split("\t")[0] for line in out.splitlines()]
    every = [m.key for m in load_catalog().models()]
    assert sorted(first_column) == sorted(every)
    from reelforge.settings import Settings
    from reelforge.studio.catalog_view import model_rows

    needs = {f"{r['provider']}/{r['model']}": r["needs"] for r in model_rows(load_catalog(), Settings(),
                                                                            include_retired=True)}
    for line in out.splitlines():  # every readiness hint whole, brackets and all
        key, _, ready = line.split("\t")[:3]
        assert ready == ("yes" if needs[key] is None else needs[key]), line


@pytest.mark.parametrize("terminal", [False, True])
def test_brackets_in_cells_are_text_not_markup(capsys, monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    """The local backend's install hint reads "pip install 'reelforge[local]'": Rich markup used to eat it."""
    from reelforge import cli_output

    monkeypatch.setattr(cli_output, "is_terminal", lambda: terminal)
    monkeypatch.setenv("COLUMNS", "300")
    hint = "Install the local extra: pip install 'reelforge[local]' ([bold]torch[/bold])"
    cli_output.print_rows(["model", "ready"], [["local/ltx-video-0.9.8-distilled", hint]], wide=(0,))
    out = capsys.readouterr().out
    assert hint in out and "local/ltx-video-0.9.8-distilled" in out, out


def test_models_json(home, capsys) -> None:
    code, out, _ = run(capsys, "models", "--provider", "preview", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and {r["provider"] for r in rows} == {"preview"} and "price" in rows[0]


def test_piped_jobs_list_full_ids_and_paths_and_json(home, capsys) -> None:
    code, out, _ = run(capsys, "generate", "a paper boat", "--provider", "preview", "--duration", "0.5",
                       "--resolution", "480p", "--json")
    job = json.loads(out)
    assert code == 0 and job["status"] == "succeeded"
    path = job["output"]["path"]
    assert Path(path).is_file()

    code, out, _ = run(capsys, "jobs")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and len(rows) == 1 and rows[0][0] == job["job_id"] and rows[0][-1] == path, out
    assert "…" not in out

    code, out, _ = run(capsys, "jobs", rows[0][0])  # an id from the list feeds straight back
    assert code == 0 and json.loads(out)["job_id"] == job["job_id"]

    code, out, _ = run(capsys, "jobs", "--json")
    assert code == 0 and [j["job_id"] for j in json.loads(out)] == [job["job_id"]]

    code, out, _ = run(capsys, "jobs", "--status", "succeeded", "--json")
    assert code == 0 and len(json.loads(out)) == 1


def test_estimate_piped_and_json(home, capsys) -> None:
    code, out, _ = run(capsys, "estimate", "a paper boat", "--provider", "preview", "--duration", "2")
    assert code == 0 and out.split("\t")[0] == "preview/animatic", out
    code, out, _ = run(capsys, "estimate", "a paper boat", "--compare", "--json")
    quotes = json.loads(out)
    assert code == 0 and any(q["provider"] == "preview" for q in quotes)


def test_doctor_piped_lines_are_not_wrapped(home, capsys) -> None:
    _, out, _ = run(capsys, "doctor", "--json")
    exe = json.loads(out)["ffmpeg"]["path"]
    code, out, _ = run(capsys, "doctor")
    ffmpeg = next(line for line in out.splitlines() if line.startswith("ffmpeg"))
    assert code == 0 and ffmpeg.rstrip().endswith(exe), out


@pytest.mark.slow
def test_a_real_pipe(home) -> None:
    """Through a real pipe, in a new process: no traceback, one line, exit 2; ids are whole."""
    env = {**os.environ, "REELFORGE_HOME": str(home), "COLUMNS": "40"}
    failed = subprocess.run([sys.executable, "-m", "reelforge", "jobs", "job_nope"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and failed.stdout == "" and one_error_line(failed.stderr)
    listed = subprocess.run([sys.executable, "-m", "reelforge", "models", "--provider", "local"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    keys = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert keys == [m.key for m in load_catalog().providers["local"].models], listed.stdout


def test_a_crashed_job_prints_no_traceback_and_no_secret(home) -> None:
    """Outside `serve` there is no log file: a crash is one redacted line, never a traceback with a key."""
    script = (
        "from reelforge.providers.preview.adapter import PreviewProvider\n"
        "async def boom(self, *a, **k):\n"
        "    raise RuntimeError('GET https://cdn.example.com/v.mp4?X-Amz-Signature=SECRETSIG123 failed, "
        "key sk-proj4567abcdefghSECRET')\n"
        "PreviewProvider.render = boom\n"
        "from reelforge.cli import main\n"
        "main(['generate', '--provider', 'preview', 'a cat'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "REELFORGE_HOME": str(home)})
    assert done.returncode != 0
    both = done.stdout + done.stderr
    assert "Traceback" not in both, both
    assert "SECRET" not in both, both
    assert "crashed" in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr

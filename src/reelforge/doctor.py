"""`reelforge doctor`: is this machine ready? ffmpeg, PyAV, ledger, folders, keys, GPU.

Key values are never printed: only whether each official variable is set.
"""

from __future__ import annotations

import subprocess
from typing import Any

from reelforge import __version__


def _ffmpeg() -> dict[str, Any]:
    try:
        from reelforge.media.ffmpeg import ffmpeg_exe

        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20)
        return {"ok": out.returncode == 0, "path": exe, "version": out.stdout.splitlines()[0] if out.stdout else ""}
    except Exception as exc:  # report, do not crash the doctor
        return {"ok": False, "error": str(exc)}


def _pyav() -> dict[str, Any]:
    try:
        import av

        return {"ok": True, "version": av.__version__}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def _ledger(settings) -> dict[str, Any]:
    from reelforge.jobs.store import JobStore

    try:
        settings.ensure_dirs()
        store = JobStore.open(settings)
        try:
            jobs = store.list(limit=10_000)
            unfinished = len(store.unfinished())
        finally:
            store.close()
        return {"ok": True, "path": str(settings.ledger), "jobs": len(jobs), "unfinished": unfinished}
    except Exception as exc:  # the reason and the fix, shown by `doctor` (and in --json)
        from reelforge.errors import explain

        explained = explain(exc)
        return {"ok": False, "path": str(settings.ledger), "error": f"{type(exc).__name__}: {exc}",
                "hint": (explained.hint if explained is not None and explained.hint else None)
                or f"Make {settings.home} writable, or set REELFORGE_HOME to a writable folder."}


def _keys(settings) -> dict[str, bool]:
    """Each declared credential variable: set or not (values never shown)."""
    from reelforge.providers.registry import declarations

    return {
        f"{d.name} ({v.name}{'' if v.required else ', optional'})": settings.provider_value(v.name) is not None
        for d in declarations().values() for v in d.credentials
    }


def _gpu() -> dict[str, Any]:
    try:
        from reelforge.providers.local.gpu import gpu_report
    except ImportError as exc:
        return {"ok": False, "error": f"local GPU backend not available: {exc}"}
    try:
        return gpu_report()
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def run_doctor() -> dict[str, Any]:
    from reelforge.settings import Settings

    settings = Settings()
    report: dict[str, Any] = {
        "version": __version__,
        "ffmpeg": _ffmpeg(),
        "pyav": _pyav(),
        "ledger": _ledger(settings),
        "outputs_dir": str(settings.outputs),
        "allowed_input_roots": [str(r) for r in settings.allowed_input_roots],
        "keys": _keys(settings),
        "gpu": _gpu(),
        "budget": {"per_call_usd": settings.max_cost_per_call_usd, "per_day_usd": settings.max_cost_per_day_usd,
                   "confirm_above_usd": settings.confirm_above_usd},
    }
    report["ok"] = report["ffmpeg"]["ok"] and report["pyav"]["ok"] and report["ledger"]["ok"]
    return report


def print_report(report: dict[str, Any], console) -> None:
    """Human text. Values are escaped: a path or hint with [brackets] is not Rich markup."""
    from rich.markup import escape

    def mark(ok: bool, bad: str = "missing") -> str:
        return "[green]ok[/green]" if ok else f"[red]{bad}[/red]"

    console.print(f"reelforge {escape(str(report['version']))}")
    f = report["ffmpeg"]
    console.print(f"ffmpeg   {mark(f['ok'])} {escape(f.get('version') or f.get('error', ''))}  {escape(f.get('path', ''))}")
    console.print(f"PyAV     {mark(report['pyav']['ok'])} {escape(report['pyav'].get('version') or report['pyav'].get('error', ''))}")
    led = report["ledger"]
    if led["ok"]:
        console.print(f"ledger   {mark(True)} {escape(led['path'])} ({led.get('jobs')} jobs, {led.get('unfinished')} unfinished)")
    else:  # say why the home is unusable and what to do, not just "missing"
        console.print(f"ledger   {mark(False, 'unusable')} {escape(led['path'])}: {escape(led.get('error', ''))}")
        console.print(f"         fix: {escape(led.get('hint') or 'set REELFORGE_HOME to a writable folder.')}")
    console.print(f"outputs  {escape(report['outputs_dir'])}")
    for name, present in report["keys"].items():
        console.print(f"key      {escape(name)}: {'set' if present else 'not set'}")
    gpu = report["gpu"]
    if gpu.get("error"):
        console.print(f"GPU      {escape(str(gpu['error']))}")
    else:
        gpus = gpu.get("gpus") or []
        if not gpus:
            console.print(f"GPU      none found (CUDA: {gpu.get('cuda')}); local models need an NVIDIA GPU")
        for g in gpus:
            console.print(f"GPU      {escape(str(g.get('name')))}: {g.get('free_gib')} GiB free of {g.get('total_gib')} GiB")
        for model_id, m in (gpu.get("models") or {}).items():
            where = m.get("source") or "not downloaded"
            fits = "" if m.get("fits") is None else (" fits" if m.get("fits") else " does not fit")
            console.print(f"local    {escape(model_id)}: {'present' if m.get('present') else 'absent'} ({escape(where)}), "
                          f"needs ~{m.get('needs_vram_gib')} GiB{fits}")
    b = report["budget"]
    console.print(f"budget   per call {b['per_call_usd']}, per day {b['per_day_usd']}, confirm above {b['confirm_above_usd']}")

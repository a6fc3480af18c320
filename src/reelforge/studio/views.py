"""Job rows → the `JobView` a calling model reads, with a plain next step."""

from __future__ import annotations

from reelforge.jobs.job import Job, JobStatus
from reelforge.studio.tool_schemas import ErrorView, JobView, OutputView

_NEXT = {
    JobStatus.QUEUED: "Still working. Call get_job(job_id, wait_seconds=40) to wait for it; do not start it again.",
    JobStatus.SUBMITTING: "Being submitted. Call get_job(job_id, wait_seconds=40); do not start it again.",
    JobStatus.RUNNING: "Still working. Call get_job(job_id, wait_seconds=40) to wait for it; do not start it again.",
    JobStatus.DOWNLOADING: "Downloading the result. Call get_job(job_id, wait_seconds=20).",
    JobStatus.SUCCEEDED: "Done: open output.path. Use its job_id with extend_video, make_loop or compose_timeline.",
    JobStatus.FAILED: "Failed: read error.message; fix the request before trying again.",
    JobStatus.CANCELED: "Canceled.",
    JobStatus.UNKNOWN: "The outcome is unknown (the provider may have charged). Do NOT submit again; check the "
    "provider's dashboard and tell the user.",
}


def job_view(job: Job) -> JobView:
    output = None
    if job.status is JobStatus.SUCCEEDED and job.outputs.get("path"):
        output = OutputView.model_validate({k: v for k, v in job.outputs.items() if k in OutputView.model_fields})
    error = ErrorView(code=job.error_code, message=job.error_message or "") if job.error_code else None
    step_providers = [c.get("step", {}).get("spec", {}).get("provider") for c in job.request.get("clips", [])]
    is_preview = job.provider == "preview" or "preview" in step_providers
    return JobView(
        job_id=job.id, kind=job.kind, status=job.status.value, progress=job.progress, stage=job.stage,
        provider=job.provider, model=job.model, is_preview=is_preview, uri=job.uri, quote_usd=job.quote_usd,
        cost_usd=job.cost_usd, eta_s=None if job.status.terminal else job.eta_s, error=error, notes=job.notes,
        parents=job.parents, output=output, next_step=_NEXT[job.status],
    )

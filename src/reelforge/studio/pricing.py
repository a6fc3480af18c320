"""Quotes from the catalog's price table, with the source and date of every figure."""

from __future__ import annotations

from reelforge.catalog import ModelEntry
from reelforge.generation_spec import GenerationSpec
from reelforge.studio.tool_schemas import Quote


def quote(spec: GenerationSpec, model: ModelEntry) -> Quote:
    price = model.price
    seconds = spec.duration_s
    res = spec.resolution.lower()
    rate = price.by_resolution.get(res, price.by_resolution.get(res.upper(), price.usd))
    if price.unit == "free":
        usd, how = 0.0, "free (runs on this machine)"
    elif price.unit == "per_second":
        usd = rate * seconds
        how = f"${rate:g}/s × {seconds:g} s"
        if spec.audio and price.audio_usd:
            usd += price.audio_usd * seconds
            how += f" + audio ${price.audio_usd:g}/s"
    elif price.unit == "per_video":
        key = f"{seconds:g}"
        usd = price.by_duration.get(f"{res}/{key}", price.by_duration.get(key, rate))
        how = f"${usd:g} per {seconds:g} s video at {spec.resolution}"
    else:  # per_megapixel_frame
        mpx = spec.width * spec.height / 1e6
        usd = rate * mpx * spec.frame_count
        how = f"${rate:g}/Mpx × {mpx:.3f} Mpx × {spec.frame_count} frames"
    if price.min_usd and usd < price.min_usd:
        usd, how = price.min_usd, f"{how}, raised to the ${price.min_usd:g} minimum charge"
    return Quote(
        provider=model.provider, model=model.id, usd=round(usd, 4), breakdown=how, source=price.source,
        as_of=price.as_of.isoformat(), estimate=price.estimate, is_preview=model.provider == "preview",
    )

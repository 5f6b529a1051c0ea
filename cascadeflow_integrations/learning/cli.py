"""`cascadeflow-integrations fit cascade.db --target 0.95`: fit a policy from a decision log or records.

With a Redis URL (`fit redis://host:6379/0`), the fleet's shared log is fitted under a fleet-wide lock
and the policy is published there with a new version, which every process picks up.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from .fit import NotEnoughLabels, fit
from .policy import Policy


def _records(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pt(p: dict[str, Any]) -> str:
    return (f"quality {p['quality_share']:.1%}, cost {p['cost_share']:.1%}, escalated {p['escalation_share']:.1%}, "
            f"direct {p['skip_share']:.1%} (n={p['n']})")


def format_report(policy: Policy) -> str:
    r = policy.report
    lines = [f"policy {policy.name}: target {policy.target_quality:.0%} of the strong model's quality",
             f"labels: {r['n_labels']} (fit {r['n_fit']}, held-out {r['n_heldout']}); per kind: "
             + ", ".join(f"{k} {n}" for k, n in r["labels_per_kind"].items())]
    for g, grp in sorted(policy.groups.items()):
        t = grp.threshold if isinstance(grp.threshold, str) else f"{grp.threshold:.3f}"
        lines.append(f"  group {g:10s} {grp.n:6d} fit labels  threshold {t}")
    if policy.skip is not None:
        st = policy.skip.threshold
        lines.append(f"  skip the draft: {st if isinstance(st, str) else f'estimate < {st:.3f}'}")
    bound = r.get("fit_lower_bound")
    lines.append(f"fit:      {_pt(r['fit'])}; {r['confidence']:.0%} bootstrap lower bound "
                 + ("n/a" if bound is None else f"{bound:.1%}"))
    if r.get("guard"):
        lines.append(f"note: {r['guard'].replace('_', ' ')} beat the fitted point on the fit split, so it is used")
    if "heldout" in r:
        lines.append(f"held-out: {_pt(r['heldout'])}")
        lines.append(f"  accept every draft: {_pt(r['heldout_accept_all'])}")
        lines.append(f"  oracle:             {_pt(r['heldout_oracle'])}")
        lines.append("held-out curve (one threshold for every kind, no skipping):")
        lines.append("  threshold  quality  cost    escalated")
        lines += [f"  {c['threshold']:9.2f}  {c['quality_share']:6.1%}  {c['cost_share']:6.1%}  {c['escalation_share']:6.1%}"
                  for c in r["heldout_curve"]]
    lines += [f"note: {n}" for n in r.get("notes", [])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cascadeflow-integrations fit", description=__doc__.split("\n")[0])
    ap.add_argument("source", help="a decision log (SQLite .db, or a redis:// URL) or records (.csv or .jsonl)")
    ap.add_argument("--target", type=float, default=0.95, help="share of the strong model's quality to keep")
    ap.add_argument("--out", default=None,
                    help="where to write the policy (JSON; default policy.json, with a redis:// source only if given)")
    ap.add_argument("--confidence", type=float, default=0.7)
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--min-labels", type=int, default=100)
    ap.add_argument("--min-kind-labels", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    kw = dict(confidence=args.confidence, holdout=args.holdout, min_labels=args.min_labels,
              min_kind_labels=args.min_kind_labels, seed=args.seed)
    from ..stores._url import is_redis_url

    if is_redis_url(args.source):
        return _fit_redis(args, kw)
    src = Path(args.source)
    if not src.is_file():
        sys.stderr.write(f"error: {src} is not a file: pass a decision log (cascade.db) or records (.csv/.jsonl)\n")
        return 2
    try:
        if src.suffix in (".csv", ".jsonl", ".json"):
            policy = fit(_records(src), args.target, **kw)
        else:
            from ..stores.sqlite import SQLiteStore

            store = SQLiteStore(src)
            try:
                policy = fit(store, args.target, **kw)
            finally:
                store.close()
    except NotEnoughLabels as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except (ValueError, ImportError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    out = args.out or "policy.json"
    policy.save(out)
    sys.stdout.write(format_report(policy) + f"\nwrote {out}: CascadeAgent(models, policy={out!r})\n")
    return 0


def _fit_redis(args: argparse.Namespace, kw: dict[str, Any]) -> int:
    import asyncio

    from redis.exceptions import RedisError

    from ..stores.redis import RedisStore, redacted_url
    from .fit import afit

    async def run() -> tuple[Policy, int] | str:
        store = RedisStore(args.source, timeout=10.0)
        try:
            async with store.lock("fit") as mine:
                if not mine:
                    return "another process is fitting this store now; try again when it is done"
                policy = await afit(store, args.target, **kw)
                return policy, await store.put_policy(policy.to_dict())
        finally:
            await store.aclose()

    try:
        out = asyncio.run(run())
    except (NotEnoughLabels, ValueError, ImportError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except (RedisError, OSError) as e:
        sys.stderr.write(f"error: cannot reach {redacted_url(args.source)}: {e}\n")
        return 2
    if isinstance(out, str):
        sys.stderr.write(f"error: {out}\n")
        return 2
    policy, version = out
    if args.out:
        policy.save(args.out)
    sys.stdout.write(format_report(policy) + f"\npublished as version {version}: processes following this store "
                     "pick it up\n" + (f"wrote {args.out}\n" if args.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`cascadeflow-integrations fit cascade.db --target 0.95`: fit a policy from a decision log or records.

With a Redis URL (`fit redis://host:6379/0`), the fleet's shared log is fitted under a fleet-wide lock
and the policy is published there with a new version, which every process picks up. Every problem with
the input or the output path is one line on stderr naming the file (and line, row or field), exit 2,
checked before the fit runs where it can be.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from .fit import NotEnoughLabels, RecordError, fit
from .policy import DEFAULT_CONFIDENCE, Policy


def _records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a .csv or .jsonl file, and where each came from ("line 12", "row 3")."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: byte {e.start}: not UTF-8; expected a UTF-8 text file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None
    out, where = [], []
    if path.suffix == ".csv":
        reader = csv.reader(text.splitlines())
        header = [h.strip() for h in next(reader, [])]
        if "prompt" not in header:
            raise InputError(f"{path}: row 1: no 'prompt' column in the header; expected prompt, draft, "
                             "draft_correct|draft_score, ... (see docs/learning.md)")
        for n, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise InputError(f"{path}: row {n}: {len(fields)} values for {len(header)} columns; expected one "
                                 "value per column (values that contain commas in double quotes)")
            out.append(dict(zip(header, fields)))
            where.append(f"row {n}")
        return out, where
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            col = getattr(e, "colno", None)
            raise InputError(f"{path}: line {n}" + (f", column {col}" if col else "")
                             + f": not JSON ({getattr(e, 'msg', e)}); expected one JSON object per line") from None
        if not isinstance(rec, dict):
            raise InputError(f"{path}: line {n}: a JSON {type(rec).__name__}, expected an object (one record per line)")
        out.append(rec)
        where.append(f"line {n}")
    return out, where


def _check_out(out: str) -> None:
    p = Path(out)
    if p.is_dir():
        raise InputError(f"--out {out}: is a directory; expected a file path such as {p / 'policy.json'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"--out {out}: the directory {parent} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK):
        raise InputError(f"--out {out}: the directory {parent} is not writable")


def _pt(p: dict[str, Any]) -> str:
    return (f"quality {p['quality_share']:.1%}, cost {p['cost_share']:.1%}, escalated {p['escalation_share']:.1%}, "
            f"direct {p['skip_share']:.1%} (n={p['n']})")


def format_report(policy: Policy) -> str:
    r = policy.report
    lines = [f"policy {policy.name}: target {policy.target_quality:.0%} of the strong model's quality",
             f"labels: {r['n_labels']}; per kind: " + ", ".join(f"{k} {n}" for k, n in r["labels_per_kind"].items())]
    if r.get("guarantee"):
        lines.append(f"guarantee: {r['guarantee']} (scorer: {r.get('chosen')})")
    for g, grp in sorted(policy.groups.items()):
        t = grp.threshold if isinstance(grp.threshold, str) else f"{grp.threshold:.3f}"
        lines.append(f"  group {g:10s} {grp.n:6d} labels  threshold {t}")
    if policy.skip is not None:
        st = policy.skip.threshold
        lines.append(f"  skip the draft: {st if isinstance(st, str) else f'estimate < {st:.3f}'}")
    for c in r.get("candidates", []):
        if c.get("certified"):
            lines.append(f"  candidate {c['name']:22s} certified: cost {c['cost_share']:.1%}, quality "
                         f"{c['quality_share']:.1%} (p {c['p_value']:.2g})")
        else:
            need = c.get("labels_needed")
            lines.append(f"  candidate {c['name']:22s} not certified"
                         + (f" (about {need} labels would certify a saving)" if need else ""))
    bound = r.get("fit_lower_bound")
    lines.append(f"all labels: {_pt(r['fit'])}; {r['confidence']:.0%} lower confidence bound "
                 + ("n/a" if bound is None else f"{bound:.1%}"))
    if "heldout" in r:
        lines.append(f"held-out ({r.get('heldout_how', 'held-out')}): {_pt(r['heldout'])}")
        lines.append(f"  accept every draft: {_pt(r['heldout_accept_all'])}")
        lines.append(f"  oracle:             {_pt(r['heldout_oracle'])}")
    if r.get("heldout_curve"):
        lines.append(f"curve of {r.get('curve_of')} on cross-fitted scores (one threshold for every kind):")
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
    ap.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE,
                    help="probability that the target holds on traffic like the labels")
    ap.add_argument("--holdout", type=float, default=None, help=argparse.SUPPRESS)  # ignored: every label is used
    ap.add_argument("--min-labels", type=int, default=100)
    ap.add_argument("--min-kind-labels", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    kw = dict(confidence=args.confidence, min_labels=args.min_labels, min_kind_labels=args.min_kind_labels,
              seed=args.seed)
    from ..stores._url import is_redis_url

    try:
        if args.out:
            _check_out(args.out)
        if is_redis_url(args.source):
            return _fit_redis(args, kw)
        out = args.out or "policy.json"
        if not args.out:
            _check_out(out)
        policy = _fit_file(Path(args.source), args.target, kw)
    except (InputError, NotEnoughLabels, ValueError, ImportError) as e:
        sys.stderr.write(f"error: {' '.join(str(e).split())}\n")
        return 2
    policy.save(out)
    sys.stdout.write(format_report(policy) + f"\nwrote {out}: CascadeAgent(models, policy={out!r})\n")
    return 0


def _fit_file(src: Path, target: float, kw: dict[str, Any]) -> Policy:
    if not src.is_file():
        raise InputError(f"{src} is not a file: pass a decision log (cascade.db) or records (.csv/.jsonl)")
    if src.suffix in (".csv", ".jsonl", ".json"):
        recs, where = _records(src)
        try:
            return fit(recs, target, **kw)
        except RecordError as e:
            raise InputError(f"{src}: {where[e.index]}: {e.problem}") from None
    from ..stores.sqlite import SQLiteStore

    try:
        store = SQLiteStore(src, read_only=True)  # a fit never writes the log: it may be on a read-only mount
        try:
            return fit(store, target, **kw)
        finally:
            store.close()
    except sqlite3.Error as e:
        raise InputError(f"{src}: cannot be read as a decision log ({e}); expected a SQLite file written by "
                         "decision_log= (a damaged file: restore a copy)") from None


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

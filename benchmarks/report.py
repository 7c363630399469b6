"""The machine, the one table the benchmark prints, and its JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.mailbox import DOVECOT

# issue 7's targets
BACKLOG_RATIO = 1.3  # at most this many times fetch-plus-parse alone
IDLE_RATIO = 1.2  # idle pass on N messages vs on 1,000
IDLE_MS = 50.0
REACTION_P95_S = 1.0
RSS_MB = 200.0  # at 100,000 messages
RSS_AT = 100_000


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and Dovecot versions, OS."""
    cpu = "unknown"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    memory_gb = 0.0
    try:
        found = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory_gb = round(int(found.group(1)) / 1024 / 1024, 1) if found else 0.0
    except OSError:
        pass
    dovecot = ""
    if DOVECOT:
        done = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=False)
        dovecot = done.stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "dovecot": dovecot,
        "os": platform.platform(),
    }


def revision(repo: Path) -> str:
    """The commit measured, with "+changes" when bot/ differs from it (others' work)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return f"{commit}+changes" if commit and git("status", "--porcelain", "bot") else commit


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    target: str = ""
    verdict: str = ""


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def rows(result: dict[str, Any]) -> list[Row]:
    """The table's rows from the result dictionary (the JSON's content)."""
    f = result["figures"]
    out = _pass_rows(f, result["messages"]) if "backlog" in f else []
    reaction = f.get("reaction")
    if reaction:
        out += _reaction_rows(reaction)
    if "backlog" in f:
        out.append(_rss_row(f["backlog"], result["messages"]))
    return out


def _pass_rows(f: dict[str, Any], n: int) -> list[Row]:
    bl = f["backlog"]
    idle_n, idle_small = f["idle_pass"]["n"], f["idle_pass"]["small"]
    out = [
        Row("fetch only (imapclient, 500/batch)", f"{f['fetch']['per_second']:,.0f} msg/s"),
        Row("fetch + parse (mail-parser)", f"{f['fetch_parse']['per_second']:,.0f} msg/s"),
        Row(
            "backlog: quotebot run --once",
            f"{bl['per_second']:,.0f} msg/s ({bl['seconds']:.1f} s, "
            f"CPU {bl['cpu_seconds'] / bl['seconds']:.0%} of a core)",
        ),
        Row(
            "backlog time / fetch+parse time",
            f"{bl['ratio_to_fetch_parse']:.2f}x" + _rounds(f.get("rounds", [])),
            f"<= {BACKLOG_RATIO}x",
            verdict(bl["ratio_to_fetch_parse"] <= BACKLOG_RATIO),
        ),
        Row("  start-up + idle pass (CLI process)", f"{f['cli_idle_seconds']:.2f} s"),
    ]
    if "cpu_ratio_to_fetch_parse" in bl:  # runs before the sixth session did not record it
        out.insert(
            4,
            Row(
                "  CPU: the bot's processes / fetch+parse",
                f"{bl['cpu_ratio_to_fetch_parse']:.2f}x (on 2 cores the time ratio is at best half "
                "of this)",
            ),
        )
    for label, idle in ((f"{idle_small['folder_messages']:,}", idle_small), (f"{n:,}", idle_n)):
        out.append(
            Row(
                f"idle pass, {label} messages",
                f"{idle['median_ms']:.1f} ms (p95 {idle['p95_ms']:.1f}; IMAP: "
                f"{', '.join(idle['commands'])})",
            )
        )
    alone = f["idle_pass"].get("imap_alone_ms")
    if alone:
        out.append(
            Row(
                "  of which NOOP + UID SEARCH alone",
                f"{alone['small']:.1f} ms on {idle_small['folder_messages']:,}, "
                f"{alone['n']:.1f} ms on {n:,}",
            )
        )
    out.append(
        Row(
            "  service poll (pass + reminder check)",
            f"{idle_small['poll_median_ms']:.1f} ms on {idle_small['folder_messages']:,}, "
            f"{idle_n['poll_median_ms']:.1f} ms on {n:,}",
        )
    )
    ratio = f["idle_pass"]["ratio"]
    out += [
        Row(
            f"idle pass {n:,} / 1,000", f"{ratio:.2f}x", f"<= {IDLE_RATIO}x", verdict(ratio <= 1.2)
        ),
        Row(
            f"idle pass on {n:,}",
            f"{idle_n['median_ms']:.1f} ms",
            f"< {IDLE_MS:.0f} ms",
            verdict(idle_n["median_ms"] < IDLE_MS),
        ),
    ]
    return out


def _rounds(rounds: list[dict[str, Any]]) -> str:
    """ " (median of 3 rounds: 1.28, 1.31, 1.45)": the spread behind a ratio, in run order."""
    if len(rounds) < 2:
        return ""
    each = ", ".join(f"{r['ratio']:.2f}" for r in rounds)
    return f" (median of {len(rounds)} rounds: {each})"


def _reaction_rows(reaction: dict[str, Any]) -> list[Row]:
    out = [
        Row(
            f"reaction p50 / p95 ({reaction['samples']} msgs)",
            f"{reaction['p50_s']:.2f} s / {reaction['p95_s']:.2f} s"
            + (f" ({reaction['missed']} missed)" if reaction["missed"] else ""),
            f"p95 < {REACTION_P95_S:.0f} s",
            verdict(reaction["p95_s"] < REACTION_P95_S and not reaction["missed"]),
        )
    ]
    notice = reaction.get("dovecot_idle_notice_p50_s")
    if notice is not None:
        out.append(Row("  of which Dovecot's IDLE notice (p50)", f"{notice:.2f} s"))
    notice_n = reaction.get("dovecot_idle_notice_n_p50_s")
    if notice_n is not None:
        out.append(Row("  the same notice on the N folder (p50)", f"{notice_n:.2f} s"))
    return out


def _rss_row(bl: dict[str, Any], n: int) -> Row:
    rss = bl.get("peak_tree_rss_mb", bl["peak_rss_mb"])
    note = "" if n >= RSS_AT else f" at {RSS_AT:,}"
    return Row(
        f"peak RSS, backlog (bot + {bl.get('processes', 1) - 1} children)",
        f"{rss:.0f} MB (PSS {bl.get('peak_tree_pss_mb', 0):.0f} MB; bot alone "
        f"{bl['peak_rss_mb']:.0f} MB)",
        f"< {RSS_MB:.0f} MB{note}",
        verdict(rss < RSS_MB) if n >= RSS_AT else ("on track" if rss < RSS_MB else "NOT MET"),
    )


def table(result: dict[str, Any]) -> str:
    """The one table, with a header naming the mailbox and the machine."""
    m, box = result["machine"], result["mailbox"]
    head = (
        f"quotebot benchmark, {result['date']}: {result['messages']:,} messages "
        f"({box['megabytes']:.1f} MB, median {box['median_kb']:.1f} KB, {box['big']} of ~1 MB, "
        f"{box['pdf']} with a PDF PO); filled in {box['fill_seconds']:.1f} s (not counted)\n"
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
        f"Dovecot {m['dovecot'].split()[0] if m['dovecot'] else '?'}; "
        f"quotebot {result.get('revision') or '?'}"
    )
    if result["figures"].get("synced_by") == "cursor":
        head += "\nreaction only: the database synced by a cursor at the folder's end, no backlog"
    body = rows(result)
    widths = [max(len(getattr(r, a)) for r in body) for a in ("figure", "value", "target")]
    lines = [head, ""]
    for r in body:
        lines.append(
            f"{r.figure:<{widths[0]}}  {r.value:<{widths[1]}}  {r.target:<{widths[2]}}  "
            f"{r.verdict}".rstrip()
        )
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

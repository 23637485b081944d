#!/usr/bin/env python3
"""Summarises the fuzzing logs (bench/results/fuzz/<target>.log, written by fuzz/run.sh) as a
Markdown table on stdout: minutes run, executions, crashes, corpus size."""
import datetime, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
logs = os.path.join(here, "..", "bench", "results", "fuzz")
print("| target | runs | minutes fuzzing (wall, with builds) | executions | exec/s | crashes in the log | corpus files | corpus bytes |")
print("|---|---|---|---|---|---|---|---|")
for f in sorted(os.listdir(logs)):
    if not f.endswith(".log"):
        continue
    t = f[:-4]
    text = open(os.path.join(logs, f), errors="replace").read()
    starts = re.findall(r"== \S+: \d+s, .*started (\S+)", text)
    ends = re.findall(r"== \S+: exit (\d+), ended (\S+)", text)
    p = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
    wall = sum((p(e[1]) - p(s)).total_seconds() for s, e in zip(starts, ends)) / 60
    minutes = sum(int(x) for x in re.findall(r"Done \d+ runs in (\d+) second", text)) / 60
    execs = sum(int(x) for x in re.findall(r"stat::number_of_executed_units: (\d+)", text))
    rates = re.findall(r"stat::average_exec_per_sec:\s+(\d+)", text)
    crashes = len(re.findall(r"Test unit written to .*/(?:crash|oom|timeout|leak)-", text))
    d = os.path.join(here, "corpus", t)
    files = os.listdir(d) if os.path.isdir(d) else []
    size = sum(os.path.getsize(os.path.join(d, x)) for x in files)
    print(f"| {t} | {len(ends)} | {minutes:.1f} ({wall:.1f}) | {execs:,} | {'/'.join(rates)} | {crashes} | {len(files)} | {size:,} |")

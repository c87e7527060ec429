#!/usr/bin/env python3
"""A structureless history file for `zhijia forecast-backtest --history` at scale: one
million member × event rows (4,432 events in 10 groups, audiences 50-400, 6 % sign up at
random). Usage: python3 benches/random_history.py > /tmp/million.csv"""
import datetime
import random
import sys

random.seed(1)
out = sys.stdout
out.write("member_id,event_id,group_id,event_kind,starts_at,announced_at,signed_up\n")
rows, e = 0, 0
d = datetime.datetime(2010, 1, 1, 19)
kinds = ["文体活动", "讲座培训", "志愿服务", "技能竞赛"]
while rows < 1_000_000:
    g = random.randrange(10)
    n = random.randrange(50, 400)
    d += datetime.timedelta(hours=random.randrange(6, 40))
    k = random.choice(kinds)
    for m in random.sample(range(800), n):
        signed = 1 if random.random() < 0.06 else 0
        out.write(f"g{g}-m{m},ev{e},g{g},{k},{d.isoformat()}+08:00,,{signed}\n")
        rows += 1
    e += 1

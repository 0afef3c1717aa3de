#!/usr/bin/env python3
# Summarise a V8 CPU profile (node --cpu-prof): total sampled time, then the functions with the
# most self time and the most inclusive time (a function counted once per sample however deep it
# recurses). Native calls (Dawn's) are charged to the JavaScript function that made them.
#   python3 bench/device/cpuprof.py run.cpuprofile [self_rows] [inclusive_rows]
import collections, json, sys

profile = json.load(open(sys.argv[1]))
nodes = {n['id']: n for n in profile['nodes']}
parent = {c: n['id'] for n in profile['nodes'] for c in n.get('children', [])}

def name(node_id):
    cf = nodes[node_id]['callFrame']
    return f"{cf['functionName'] or '(anonymous)'} {cf['url'].split('/')[-1]}:{cf['lineNumber'] + 1}"

sample_time = collections.Counter()
for sample, dt in zip(profile['samples'], profile['timeDeltas']):
    sample_time[sample] += dt
self_time, inclusive = collections.Counter(), collections.Counter()
for node_id, t in sample_time.items():
    self_time[name(node_id)] += t
    seen, x = set(), node_id
    while x is not None:
        n = name(x)
        if n not in seen:
            inclusive[n] += t
            seen.add(n)
        x = parent.get(x)
print(f"sampled {sum(sample_time.values()) / 1000:.0f} ms")
print('--- self ms')
for k, v in self_time.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    print(f"{v / 1000:9.1f}  {k}")
print('--- inclusive ms')
for k, v in inclusive.most_common(int(sys.argv[3]) if len(sys.argv) > 3 else 50):
    print(f"{v / 1000:9.1f}  {k}")

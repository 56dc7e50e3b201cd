# bench/traces/src/workload.py: the Python program whose allocations
# bench/traces/python.hmt records (record.sh runs it with PYTHONMALLOC=malloc,
# so every object goes through malloc rather than Python's own small-object
# pools). Two threads count words with a regular expression and round-trip a
# dictionary through JSON. Argument: a size factor (1 for the shipped trace).
import collections
import json
import re
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def work(seed, out):
    words = collections.Counter()
    text = " ".join("item%d value%d" % (i, (i * seed) % 97) for i in range(1500 * n))
    for w in re.findall(r"[a-z]+\d+", text):
        words[w] += 1
    d = {str(k): [k, str(k) * 3, {"x": k, "y": [k] * (k % 5)}] for k in range(400 * n)}
    s = json.dumps(d, sort_keys=True)
    out.append((len(words), len(s), len(json.loads(s))))


results = []
threads = [threading.Thread(target=work, args=(seed, results)) for seed in (7, 11)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(results))

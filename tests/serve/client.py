"""Ask an endpoint again and again until a file appears; one line per answer:
status run a b (from the JSON), or status and the body. New connections and one kept-alive
connection by turns, so that every worker is met."""
import http.client, json, os, sys, time
host, port, path, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
keep = http.client.HTTPConnection(host, port, timeout=10)
with open(out, "w") as f:
    i = 0
    while not os.path.exists(stop):
        fresh = i % 2 == 0
        c = http.client.HTTPConnection(host, port, timeout=10) if fresh else keep
        try:
            c.request("GET", path, headers={"Connection": "close"} if fresh else {})
            r = c.getresponse()
            body = r.read().decode()
            try:
                j = json.loads(body)
                f.write("%d %s %s %s\n" % (r.status, j.get("run"), j.get("a"), j.get("b")))
            except ValueError:
                f.write("%d %r\n" % (r.status, body))
        except Exception as e:   # a dropped connection is an answer too: a failure
            f.write("000 %r\n" % (e,))
            keep = http.client.HTTPConnection(host, port, timeout=10)
        if fresh:
            c.close()
        i += 1

"""A flow whose results are served as a microservice (@endpoint):
    mflow run examples/python/serve.py
    mflow serve examples/python/serve.py --port 8080 &      (or python3 serve.py serve)
    curl http://127.0.0.1:8080/show_data                    {"result": 3}
    curl -d '{"x": 4}' http://127.0.0.1:8080/scale          {"x": 4, "y": 12}
    curl 'http://127.0.0.1:8080/scale?x=4'                  the same
    curl http://127.0.0.1:8080/                             the endpoints
The server answers from the latest successful run, and moves to a newer one by itself."""
from mflow import FlowSpec, HTTPError, endpoint, step


class ServeFlow(FlowSpec):
    @step
    def start(self):
        self.a = 1
        self.b = 2
        self.next(self.end)

    @step
    def end(self):
        self.result = self.a + self.b
        print("result", self.result)

    @endpoint
    def show_data(self):
        """the result"""
        return {"result": self.result}

    @endpoint
    def scale(self, request):
        """x times the result: {"x": 4} or ?x=4"""
        try:
            x = int(request["x"])
        except (TypeError, ValueError):
            raise HTTPError(400, 'give x, a whole number: {"x": 4}')
        return {"x": x, "y": x * self.result}


if __name__ == "__main__":
    ServeFlow()

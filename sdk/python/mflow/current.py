"""`current`: the task that runs now (flow_name, run_id, step_name, task_id, retry_count,
pathspec); outside a task every field is None."""


class Current:
    def __init__(self):
        self._task = None

    def _bind(self, task):
        self._task = task

    def _get(self, what):
        return self._task.info(what) if self._task is not None else None

    @property
    def flow_name(self):
        return self._get("flow_name")

    @property
    def run_id(self):
        return self._get("run_id")

    @property
    def step_name(self):
        return self._get("step_name")

    @property
    def task_id(self):
        return self._get("task_id")

    @property
    def retry_count(self):
        return self._get("retry_count")

    @property
    def pathspec(self):
        if self._task is None:
            return None
        return "%s/%s/%s/%s" % (self.flow_name, self.run_id, self.step_name, self.task_id)

    def __repr__(self):
        return "<current %s>" % (self.pathspec or "(no task)")


current = Current()

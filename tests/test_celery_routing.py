"""Each named queue gets only its own tasks: a task routed to one queue is delivered to that one."""

from __future__ import annotations

from healthboard.celery import QUEUES, app


def test_every_queue_has_its_own_exchange_and_key():
    queues = {q.name: q for q in app.conf.task_queues}
    assert set(queues) == set(QUEUES)
    bindings = {(q.exchange.name, q.routing_key) for q in queues.values()}
    assert len(bindings) == len(QUEUES), "two queues share a binding: tasks would be delivered twice"


def test_routes_resolve_to_the_named_queue():
    router = app.amqp.router
    for task, queue in (
        ("alerts.tasks.dispatch_notifications", "notify"),
        ("metrics.tasks_compute.compute_deployment", "compute"),
        ("healthboard.tasks.heartbeat", "compute"),
    ):
        route = router.route({}, task)
        assert route["queue"].name == queue
        assert route["queue"].routing_key == queue

"""Jobs: the queue boundary, boring on purpose.

Job ids and their names in Redis (``keys``), enqueueing, cancelling and reading jobs
(``queue.JobQueue``), what a worker runs with its lease and progress (``tasks``), the RQ worker
class (``workers``), what users see of a job (``status``), the zip of a job's outputs and the
joining of a period's files (``bundle``, ``merge``), and what users are told of unexpected
failures (``failures``). Arguments on the queue are JSON only.

May import: ``requests`` and everything below.
"""

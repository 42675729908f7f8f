"""`pushgate bench` (`make bench`): the performance budget of a deploy, measured on this machine.

Users pay for the pipeline in three currencies: the time it adds between a push and a healthy
service, what each deploy costs, and cold starts. This measures each, as the median of
``--repeat`` runs, prints one table (each budget line PASS or OVER) and writes the same figures
as JSON. It exits 0 when every measurement was made, OVER or not (it is a report), and 1 when
one could not be made. It is not part of `make test` (only its pure parts are unit-tested).

One module per job:

- :mod:`~pushgate_cli.bench.budgets`: the budgets, PASS/OVER, the report they fill;
- :mod:`~pushgate_cli.bench.cost`: list prices and the arithmetic of a deploy's cost;
- :mod:`~pushgate_cli.bench.stack`: the functions measured (the rehearsal's one list);
- :mod:`~pushgate_cli.bench.cold_start`: importing each handler in a fresh interpreter;
- :mod:`~pushgate_cli.bench.sizes`: a real ``sam build``, each artifact's size;
- :mod:`~pushgate_cli.bench.warm`: warm latency, and the seed's per-task-start cost;
- :mod:`~pushgate_cli.bench.rehearsal`: the healthy rehearsal, its transitions and cost;
- :mod:`~pushgate_cli.bench.table`: the one table the figures are printed in;
- :mod:`~pushgate_cli.bench.command`: ``run_bench``, which runs them in order.

Importing the package imports nothing: the measurements load the rehearsal, moto and the
embedded PostgreSQL only when they run.
"""

"""One module per command group; each exposes `register(app, data_app, bench_app)`."""

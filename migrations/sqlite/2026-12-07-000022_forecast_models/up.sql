-- The forecast model, trained by the background job under its lease and read by every instance
-- (issue 32): weights, the count model, calibration and the backtest, as JSON. It names no
-- person (member-level counters are rebuilt by each instance from the history).
CREATE TABLE forecast_models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trained_at TIMESTAMP NOT NULL,
    activities INTEGER NOT NULL,
    took_ms INTEGER NOT NULL,
    model TEXT NOT NULL
);

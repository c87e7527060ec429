-- One row per run of a leased background job: which instance ran it, for which tick. The key
-- refuses a second run of the same tick, and operators (and the cluster test) can count runs.
-- Additive: safe to apply while older instances keep serving.
CREATE TABLE job_runs (
    name TEXT NOT NULL,
    tick TIMESTAMP NOT NULL,
    holder TEXT NOT NULL,
    PRIMARY KEY (name, tick)
);

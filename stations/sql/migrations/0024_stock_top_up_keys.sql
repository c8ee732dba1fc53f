-- Top-ups sent with an Idempotency-Key. A top-up whose answer was lost (35 of 180 in a
-- fault run ended with an unknown outcome) is sent again by the operator's phone; with
-- its key remembered, the retry adds nothing and answers the day's stock. Keys are kept
-- a week (stations/visits/stock.py forgets older ones of the station as it goes).
CREATE TABLE stock_top_ups (
    station_id  bigint NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    idem_key    text NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 100),
    local_day   date NOT NULL,
    count       integer NOT NULL CHECK (count > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, idem_key)
);

-- Demand (worker activity) import: COPY into a staging table, then one upsert.

-- name: create_stage
CREATE TEMP TABLE demand_stage (
    source_id   text NOT NULL,
    activity    text NOT NULL,
    weight      double precision NOT NULL,
    observed_at timestamptz,
    lat         double precision NOT NULL,
    lng         double precision NOT NULL,
    h3_r11      bigint NOT NULL
) ON COMMIT DROP

-- name: upsert_from_stage
-- Insert new (source, source_id) pairs, update changed ones, leave identical ones alone.
WITH written AS (
    INSERT INTO demand_points AS d (source, source_id, activity, weight, observed_at, geom, h3_r11)
    SELECT $1, s.source_id, s.activity, s.weight, s.observed_at,
           ST_SetSRID(ST_MakePoint(s.lng, s.lat), 4326)::geography, s.h3_r11
    FROM demand_stage s
    ON CONFLICT (source, source_id) DO UPDATE
    SET activity = EXCLUDED.activity,
        weight = EXCLUDED.weight,
        observed_at = EXCLUDED.observed_at,
        geom = EXCLUDED.geom,
        h3_r11 = EXCLUDED.h3_r11
    WHERE (d.activity, d.weight, d.observed_at, d.h3_r11, ST_AsBinary(d.geom))
          IS DISTINCT FROM
          (EXCLUDED.activity, EXCLUDED.weight, EXCLUDED.observed_at, EXCLUDED.h3_r11,
           ST_AsBinary(EXCLUDED.geom))
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM written

-- name: record_import
INSERT INTO demand_imports (source, actor, crs, rows_read, inserted, updated, unchanged, rejected)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id

-- name: demand_summary
SELECT source, count(*) AS points, sum(weight) AS weight,
       min(observed_at) AS first_observed, max(observed_at) AS last_observed
FROM demand_points
GROUP BY source
ORDER BY source

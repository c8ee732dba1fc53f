"""The catalog database: connections and pools, the embedded cluster, migrations,
administration, and database refusals turned into domain errors."""

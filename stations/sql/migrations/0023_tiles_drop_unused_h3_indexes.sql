-- Vector tiles (stations/tiles) read the stored H3 columns: national and city tiles sum
-- the catalog per h3_r7 / h3_r9 cell once per catalog change (one grouped scan of the
-- whole table, where an index does not help), and dense street tiles count their cells
-- through h3_r11 and its index. The indexes on h3_r7 and h3_r9 were scanned by no query
-- (pg_stat_user_indexes showed 0 scans after an audit of every feature, and again after
-- bench/tiles.py), while every insert, update and import kept them up to date.
DROP INDEX IF EXISTS stations_h3_r7;
DROP INDEX IF EXISTS stations_h3_r9;
DELETE FROM deferred_indexes WHERE index_name IN ('stations_h3_r7', 'stations_h3_r9');

-- natlab's survey shares in ClickHouse, over the Distributed table (every
-- shard): the counts natreport's survey gives for the same records, as
-- (key, value, count) rows; '-' is a record without the key, as natreport
-- writes it. Group by a tag by adding, in each part,
--   tag_values[indexOf(tag_names, 'isp')] AS isp ... GROUP BY isp, value
-- (ClickHouse 18.16 or later: no Map type, hence the two arrays).
SELECT 'NAT' AS key, if(udp_nat = '', '-', udp_nat) AS value, count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'mapping' AS key, if(udp_mapping = '', '-', udp_mapping) AS value, count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'filtering' AS key, if(udp_filtering = '', '-', udp_filtering) AS value, count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'hairpinning' AS key, if(udp_hairpinning = '', '-', udp_hairpinning) AS value, count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'NAT depth' AS key,
       if(nat_depth = '', '-', if(nat_depth = 'malformed', '(malformed)', nat_depth)) AS value,
       count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'CGN' AS key, if(cgn = '', '-', if(cgn = 'malformed', '(malformed)', cgn)) AS value,
       count() AS n
FROM natlab_records GROUP BY value
UNION ALL
SELECT 'port mapping answered' AS key, arrayJoin(portmap_answered) AS value, count() AS n
FROM natlab_records WHERE portmap_tested = 1 GROUP BY value
UNION ALL
SELECT 'port mapping answered' AS key, 'any' AS value, countIf(notEmpty(portmap_answered)) AS n
FROM natlab_records WHERE portmap_tested = 1
UNION ALL
SELECT 'port mapping works' AS key, arrayJoin(portmap_works) AS value, count() AS n
FROM natlab_records WHERE portmap_tested = 1 AND portmap_mapping_asked = 1 GROUP BY value
UNION ALL
SELECT 'port mapping works' AS key, 'any' AS value, countIf(notEmpty(portmap_works)) AS n
FROM natlab_records WHERE portmap_tested = 1 AND portmap_mapping_asked = 1

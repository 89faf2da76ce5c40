-- 100-row range SELECT within controller c07 on t_c (phleet-governed table, role bound to controller c07)
\set start random(1, 997000)
SELECT id, phone, body, created_at FROM t_c WHERE id >= :start ORDER BY id LIMIT 100;

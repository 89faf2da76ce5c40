-- 100-row range SELECT within controller c07 on t_a (plain table, controller written by hand)
\set start random(1, 997000)
SELECT id, phone, body, created_at FROM t_a WHERE controller = 'c07' AND id >= :start ORDER BY id LIMIT 100;

-- 100-row range SELECT within controller c07 on t_b (hand-rolled PL/pgSQL trigger + RLS on current_setting('app.controller'))
\set start random(1, 997000)
SELECT id, phone, body, created_at FROM t_b WHERE id >= :start ORDER BY id LIMIT 100;

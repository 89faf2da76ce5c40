-- indexed point SELECT by id within controller c07 on t_b (hand-rolled PL/pgSQL trigger + RLS on current_setting('app.controller'))
\set id 20 * random(0, 49999) + 7
SELECT id, phone, body, created_at FROM t_b WHERE id = :id;

-- indexed point SELECT by id within controller c07 on t_c (phleet-governed table, role bound to controller c07)
\set id 20 * random(0, 49999) + 7
SELECT id, phone, body, created_at FROM t_c WHERE id = :id;

-- indexed point SELECT by id within controller c07 on t_a (plain table, controller written by hand)
\set id 20 * random(0, 49999) + 7
SELECT id, phone, body, created_at FROM t_a WHERE controller = 'c07' AND id = :id;
